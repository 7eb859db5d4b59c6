//! The command line: flags, their validation into settings, and output formats.

pub mod args;
pub(crate) mod output;
pub(crate) mod settings;
