//! The simulator API against a real server: one test per row and rule of README.md's "The simulator API", on SQLite
//! always and on PostgreSQL when `TEST_DATABASE_URL` is set.

mod cli;
mod commits;
mod follows;
mod latest;
mod messages;
mod register;
mod restart;
mod round_trips;
mod scenario;
