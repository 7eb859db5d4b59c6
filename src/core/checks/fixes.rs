//! The policy fixes doctor prints: for a role whose trust or inline policy lacks what Argo CD
//! needs, the whole document as `policy --create` would write it (every statement there kept),
//! as the aws command that puts it in place.

use std::collections::BTreeSet;

use super::{HubFacts, RoleFacts};
use crate::core::model::{IdentityMode, RoleArn, SaRef};
use crate::core::policy::document::{PolicyDocument, STS_AUDIENCE};
use crate::core::policy::evaluate::At;
use crate::core::policy::generate::{
    INLINE_POLICY, OidcProvider, RolePolicies, argocd_service_accounts, oidc_provider_arn,
    wanted_roles,
};
use crate::core::policy::plan::{IamAction, ObservedRole, plan_role};

/// The IAM OIDC provider IRSA's trust names: the hub's issuer, in the management role's account
/// (where the role is, which need not be the hub cluster's account).
pub(super) fn irsa_provider(hub: &HubFacts, management: &RoleArn) -> Option<OidcProvider> {
    let issuer = hub.hub_cluster.as_ref()?.oidc_issuer.clone()?;
    Some(OidcProvider {
        arn: oidc_provider_arn(&management.partition, &management.account, &issuer),
        url: issuer,
        client_ids: [STS_AUDIENCE],
    })
}

/// The service accounts `policy` writes the trust for: Argo CD's, as found in its namespace.
pub(super) fn policy_service_accounts(hub: &HubFacts) -> Vec<SaRef> {
    let present: Vec<String> = hub
        .service_accounts
        .iter()
        .map(|sa| sa.name.clone())
        .collect();
    argocd_service_accounts(&hub.namespace, &present, &mut Vec::new())
}

/// The roles `policy --create` would want for what doctor read: Argo CD's identity, its
/// management role, and the target roles of the Secrets doctor checks.
fn wanted(hub: &HubFacts, mode: IdentityMode, management: &RoleArn) -> Vec<RolePolicies> {
    let provider = match mode {
        IdentityMode::Irsa => irsa_provider(hub, management),
        _ => None,
    };
    let targets: BTreeSet<RoleArn> = hub.target_roles.iter().cloned().collect();
    let targets: Vec<RoleArn> = targets.into_iter().collect();
    wanted_roles(
        mode,
        management,
        &targets,
        provider.as_ref(),
        hub.hub_cluster.as_ref().map(|c| &c.arn),
        &policy_service_accounts(hub),
    )
}

/// What `policy --create` would write to `facts`' role (the management role or a target role),
/// from what IAM has.
fn planned(
    hub: &HubFacts,
    mode: IdentityMode,
    management: &RoleArn,
    facts: &RoleFacts,
    target: Option<&RoleArn>,
) -> Vec<IamAction> {
    // A role doctor found without a trust policy does not exist: its permission fix still holds.
    let trust = facts.trust.clone().unwrap_or_else(PolicyDocument::empty);
    let mut hub = hub.clone();
    if let Some(target) = target {
        hub.target_roles.push(target.clone());
    }
    let roles = wanted(&hub, mode, management);
    let Some(role) = roles.iter().find(|r| r.arn == facts.arn) else {
        return Vec::new();
    };
    let observed = ObservedRole {
        trust,
        inline: facts
            .permissions
            .iter()
            .find(|p| p.name == INLINE_POLICY)
            .map(|p| p.document.clone()),
    };
    let pod_identity = mode == IdentityMode::PodIdentity;
    plan_role(role, Some(&observed), pod_identity, &mut Vec::new())
        .into_iter()
        .filter_map(|step| step.write)
        .collect()
}

/// The `update-assume-role-policy` that gives `facts`' role the trust Argo CD needs, when
/// adding or correcting statements can (`target`: a target role the fix is also for).
pub(super) fn trust_fix(
    hub: &HubFacts,
    mode: IdentityMode,
    management: &RoleArn,
    facts: &RoleFacts,
    target: Option<&RoleArn>,
) -> Option<String> {
    planned(hub, mode, management, facts, target)
        .into_iter()
        .find_map(|write| match write {
            IamAction::UpdateTrust { trust, .. } => Some(update_trust_command(&facts.arn, &trust)),
            _ => None,
        })
}

/// The `put-role-policy` that lets the management role assume `target` (and every role it
/// already may), keeping whatever else its inline policy holds.
pub(super) fn permission_fix(
    hub: &HubFacts,
    mode: IdentityMode,
    management: &RoleFacts,
    target: &RoleArn,
) -> Option<String> {
    planned(hub, mode, &management.arn, management, Some(target))
        .into_iter()
        .find_map(|write| match write {
            IamAction::PutPolicy { document, .. } => Some(format!(
                "in account {}: aws iam put-role-policy --role-name {} --policy-name {INLINE_POLICY} --policy-document {}",
                management.arn.account,
                management.arn.name(),
                shell_quote(&document.to_string())
            )),
            _ => None,
        })
}

pub(super) fn update_trust_command(role: &RoleArn, trust: &PolicyDocument) -> String {
    format!(
        "in account {}: aws iam update-assume-role-policy --role-name {} --policy-document {}",
        role.account,
        role.name(),
        shell_quote(&trust.to_string())
    )
}

/// An explicit Deny nothing can be added to undo: name it.
pub(super) fn deny_fix(role: &RoleArn, policy: &str, statement: &str) -> String {
    format!(
        "in account {}: remove or narrow the Deny statement {statement} of {policy} on role {} (an explicit Deny wins over every Allow)",
        role.account,
        role.name()
    )
}

/// `Sid "X"` or `#n` (from 1) of statement `at` among `docs`' statements.
pub(super) fn statement_name(docs: &[&PolicyDocument], at: At) -> String {
    let sid = docs
        .get(at.document)
        .and_then(|doc| doc.statements.get(at.statement))
        .and_then(|s| s.sid.clone());
    match sid {
        Some(sid) => format!("{sid:?}"),
        None => format!("#{}", at.statement + 1),
    }
}

/// One shell word, as the printed command must be pasted into a shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
