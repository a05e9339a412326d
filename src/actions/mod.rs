//! The actions, one file each: what the API and the pages do on a user's behalf, so a
//! change is checked, stored and published to open streams the same way whichever surface
//! it came through. Each returns [`AppResult`](crate::error::AppResult); the surfaces
//! only translate their input and render the outcome.
//!
//! - [`registration`]: registering a user;
//! - [`posting`]: posting a message;
//! - [`follows`]: following and unfollowing;
//! - [`login`]: checking a user's password;
//! - [`moderation`]: hiding a message and showing it again.

pub mod follows;
pub mod login;
pub mod moderation;
pub mod posting;
pub mod registration;
