//! The ports' real implementations: kube, AWS, and the terminal.

pub mod aws;
pub mod iam;
pub mod kube;
pub mod local;
pub mod prompt;
