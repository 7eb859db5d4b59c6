//! One module per command: each observes through the ports, plans with the core, applies.

pub mod add;
pub mod completion;
pub mod doctor;
pub mod list;
pub mod policy;
pub mod remove;
pub mod targets;

use targets::Account;

/// The ports a command works through; `accounts[0]` is the caller's own account, also the hub's.
pub struct Ports<'a, H, A, P> {
    pub hub: &'a H,
    pub accounts: &'a [Account<A>],
    pub prompt: &'a P,
}
