//! The ports' real implementations: kube, AWS, and the terminal.

pub(crate) mod aws;
pub(crate) mod iam;
pub(crate) mod kube;
pub(crate) mod objects;
pub(crate) mod prompt;
