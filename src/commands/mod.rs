//! One module per command: each observes through the ports, plans with the core, applies.

pub mod add;
pub mod completion;
pub mod targets;
