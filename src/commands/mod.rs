//! One module per command: each observes through the ports, plans with the core, applies.

pub mod accounts;
pub mod add;
pub mod completion;
pub mod doctor;
pub mod list;
pub mod policy;
pub mod remove;
pub mod targets;

use accounts::Accounts;

/// The ports a command works through.
pub struct Ports<'a, H, A, P> {
    pub hub: &'a H,
    pub accounts: &'a Accounts<A>,
    pub prompt: &'a P,
}
