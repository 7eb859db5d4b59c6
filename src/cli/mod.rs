//! The command line: flags, their validation into settings, and output formats.

pub mod args;
pub mod output;
pub mod settings;
