//! The pure core: domain types, the Secret format, planning and checking. No I/O.

pub(crate) mod access;
pub(crate) mod action;
pub(crate) mod checks;
pub(crate) mod model;
pub(crate) mod partition;
pub(crate) mod plan;
pub mod policy;
pub(crate) mod registration;
pub(crate) mod removal;
pub(crate) mod secret;
