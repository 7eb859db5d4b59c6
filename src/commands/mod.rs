//! One module per command: each observes through the ports, plans with the core, applies.

pub(crate) mod accounts;
pub(crate) mod add;
pub(crate) mod completion;
pub(crate) mod doctor;
pub(crate) mod list;
pub(crate) mod policy;
pub(crate) mod registered;
pub(crate) mod remove;
pub(crate) mod targets;

use accounts::Accounts;

/// The ports a command works through.
pub(crate) struct Ports<'a, H, A, P> {
    pub(crate) hub: &'a H,
    pub(crate) accounts: &'a Accounts<A>,
    pub(crate) prompt: &'a P,
}
