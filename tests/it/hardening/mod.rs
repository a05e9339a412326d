//! Hardening (README.md, "Limits"): limits, junk input, faults and restarts with nothing lost.

mod durability;
mod ipv6;
mod junk;
mod limits;
mod memory;
mod outage;
mod slow_clients;
mod stack;
