//! The command line: flags, their validation into settings, and output formats.

pub mod args;
pub mod completion;
pub(crate) mod examples;
pub(crate) mod multi_pick;
pub(crate) mod output;
pub(crate) mod picker;
pub(crate) mod settings;
