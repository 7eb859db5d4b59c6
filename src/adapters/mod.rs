//! The ports' real implementations: kube, AWS, and the terminal.

pub(crate) mod aws;
pub(crate) mod iam;
pub(crate) mod kube;
mod objects;
pub(crate) mod prompt;
