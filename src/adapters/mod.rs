//! The ports' real implementations: kube, AWS, and the terminal.

pub(crate) mod assumed_role;
pub(crate) mod aws;
pub(crate) mod aws_http;
mod eks;
pub(crate) mod iam;
pub(crate) mod interrupt;
pub(crate) mod kube;
pub(crate) mod live_prompt;
pub(crate) mod local;
pub(crate) mod prompt;
mod token;
