//! One module per command: each observes through the ports, plans with the core, applies.

pub(crate) mod accounts;
pub(crate) mod add;
pub(crate) mod completion;
pub(crate) mod doctor;
pub(crate) mod list;
pub(crate) mod permissions;
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

/// The access review before any write: the `(verb, API group, resource)` pairs of `needed`
/// the caller may not use in `namespace` make the refusal, with `fix`.
pub(crate) async fn require_rbac<'n, H: crate::ports::HubRead>(
    hub: &H,
    namespace: &str,
    needed: impl IntoIterator<Item = (&'n str, &'n str, &'n str)>,
    fix: String,
) -> crate::error::Result<()> {
    let mut denied = Vec::new();
    for (verb, group, resource) in needed {
        if !hub.can_i(namespace, verb, group, resource).await? {
            denied.push(format!("{verb} {resource}"));
        }
    }
    if denied.is_empty() {
        return Ok(());
    }
    Err(crate::error::Error::denied(
        format!(
            "the hub does not let you {} in namespace {namespace}",
            denied.join(", ")
        ),
        fix,
    ))
}

/// After an apply and a read-back, nothing may be left to write; `left` names what is.
pub(crate) fn nothing_left(left: &[String]) -> crate::error::Result<()> {
    if left.is_empty() {
        return Ok(());
    }
    Err(crate::error::Error::VerifyFailed {
        what: left.join("; "),
        detail: "the read-back differs".into(),
    })
}
