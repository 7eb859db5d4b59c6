//! The pure core: domain types, the Secret format, planning and checking. No I/O.

pub(crate) mod access;
pub(crate) mod action;
pub(crate) mod argocd_config;
pub(crate) mod arn;
pub(crate) mod aws_auth;
pub(crate) mod checks;
pub(crate) mod model;
pub(crate) mod partition;
pub(crate) mod permissions;
pub(crate) mod plan;
mod plan_error;
pub(crate) mod pod_identity;
pub mod policy;
pub(crate) mod progress;
#[cfg(test)]
mod properties;
pub(crate) mod rbac;
pub(crate) mod registration;
pub(crate) mod removal;
pub(crate) mod secret;
pub(crate) mod secret_plan;
