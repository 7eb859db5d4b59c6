//! The pure core: domain types, the Secret format, and planning. No I/O.

pub mod access;
pub mod checks;
pub mod model;
pub mod partition;
pub mod plan;
pub mod removal;
pub mod roles;
pub mod secret;
pub mod trust;
