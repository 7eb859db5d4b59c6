//! The pure core: domain types, the Secret format, planning and checking. No I/O.

pub mod access;
pub mod action;
pub mod checks;
pub mod model;
pub mod partition;
pub mod plan;
pub mod policy;
pub mod registration;
pub mod removal;
pub mod secret;
