//! The ports' real implementations: kube, AWS, and the terminal.

pub mod aws;
pub mod iam;
pub mod kube;
mod objects;
pub mod prompt;
