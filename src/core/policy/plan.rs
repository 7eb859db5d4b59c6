//! `policy --create`'s planning: compare the roles the tool wants with what IAM has, and the
//! writes that close the gap (or the steps left to the user). Pure: the command observes IAM
//! and applies the writes.

use serde::Serialize;

use super::diagnose::assumable_roles;
use super::document::{PolicyDocument, Principal, same_policy};
use super::generate::{INLINE_POLICY, NamedPolicy, OidcProvider, RoleKind, RolePolicies};
use super::repair::{repair_permissions, repair_trust};
use crate::core::model::RoleArn;

/// What a plan step does to IAM. Unlike `add`'s `action::Change`, a step can be left to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Change {
    Create,
    Update,
    Unchanged,
    /// Needs credentials (or a feature) this run does not have: the user runs the aws commands.
    Manual,
}

/// A write to IAM, with everything the writer needs; `account` says which credentials make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IamAction {
    CreateOidcProvider {
        issuer: String,
    },
    CreateRole {
        name: String,
        trust: PolicyDocument,
        description: String,
        /// Set after creating: a trust policy that names the role itself (IAM refuses a
        /// principal that does not exist yet).
        then_trust: Option<PolicyDocument>,
    },
    UpdateTrust {
        name: String,
        trust: PolicyDocument,
    },
    PutPolicy {
        role: String,
        document: PolicyDocument,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlanStep {
    pub(crate) change: Change,
    pub(crate) account: String,
    pub(crate) subject: String,
    pub(crate) detail: String,
    #[serde(skip)]
    pub(crate) write: Option<IamAction>,
}

/// A role as IAM has it: trust policy, and the tool's inline policy if there is one.
pub(crate) struct ObservedRole {
    pub(crate) trust: PolicyDocument,
    pub(crate) inline: Option<PolicyDocument>,
}

pub(crate) fn trust_subject(role: &RoleArn) -> String {
    format!("role {role} trust policy")
}

pub(crate) fn provider_subject(provider: &OidcProvider) -> String {
    format!("IAM OIDC provider {}", provider.arn)
}

pub(crate) fn policy_subject(role: &RoleArn, name: &str) -> String {
    format!("role {role} policy {name}")
}

fn manual(account: &str, subject: String, detail: String) -> PlanStep {
    PlanStep {
        change: Change::Manual,
        account: account.to_owned(),
        subject,
        detail,
        write: None,
    }
}

/// Every step of `role` left to the user, for `detail`'s reason.
pub(crate) fn manual_role(role: &RolePolicies, detail: &str) -> Vec<PlanStep> {
    let account = &role.arn.account;
    let mut steps = vec![manual(account, trust_subject(&role.arn), detail.to_owned())];
    for policy in &role.permission_policies {
        steps.push(manual(
            account,
            policy_subject(&role.arn, &policy.name),
            detail.to_owned(),
        ));
    }
    steps
}

/// The hub's IAM OIDC provider: `exists` is what the management role's account says, `None`
/// when this run cannot reach that account.
pub(crate) fn plan_oidc_provider(
    provider: &OidcProvider,
    management: &RoleArn,
    exists: Option<bool>,
) -> PlanStep {
    let account = &management.account;
    let subject = provider_subject(provider);
    match exists {
        None => manual(account, subject, unreachable_detail(account, management)),
        Some(true) => PlanStep {
            change: Change::Unchanged,
            account: account.clone(),
            subject,
            detail: format!("for {}", provider.url),
            write: None,
        },
        Some(false) => PlanStep {
            change: Change::Create,
            account: account.clone(),
            subject,
            detail: format!("for the hub's issuer {}", provider.url),
            write: Some(IamAction::CreateOidcProvider {
                issuer: provider.url.clone(),
            }),
        },
    }
}

pub(crate) fn unreachable_detail(account: &str, role: &RoleArn) -> String {
    format!(
        "account {account} is not reachable with these credentials: run the aws commands below with credentials for it, or pass --assume-role arn:{}:iam::{account}:role/<a role there you may assume>",
        role.partition
    )
}

/// The writes that make `role` as wanted from what IAM has (`None`: no such role). A trust
/// policy keeps every statement (see `repair_trust`); the inline policy keeps the roles it
/// already allows and every statement of someone else's.
pub(crate) fn plan_role(
    role: &RolePolicies,
    observed: Option<&ObservedRole>,
    pod_identity: bool,
    notes: &mut Vec<String>,
) -> Vec<PlanStep> {
    if observed.is_none() && role.arn.path_and_name.contains('/') {
        return manual_role(
            role,
            "--create makes roles without a path: create this one with the aws commands below, then run again",
        );
    }
    let mut steps = vec![trust_step(role, observed)];
    let existing_inline = observed.and_then(|o| o.inline.as_ref());
    for policy in &role.permission_policies {
        steps.push(permission_step(role, policy, existing_inline, pod_identity));
    }
    if role.permission_policies.is_empty()
        && let Some(existing) = existing_inline
    {
        notes.push(unneeded_inline_note(role, existing));
    }
    steps
}

fn step(
    role: &RolePolicies,
    change: Change,
    subject: String,
    detail: String,
    write: Option<IamAction>,
) -> PlanStep {
    PlanStep {
        change,
        account: role.arn.account.clone(),
        subject,
        detail,
        write,
    }
}

/// Create the role with its trust policy, or repair its trust policy (statements kept).
fn trust_step(role: &RolePolicies, observed: Option<&ObservedRole>) -> PlanStep {
    let name = role.arn.name().to_owned();
    let subject = trust_subject(&role.arn);
    let Some(observed) = observed else {
        let statements = role.trust_policy.statements.len();
        let description = match role.kind {
            RoleKind::Management => "Argo CD management role (kubectl-argocd-eks)".to_owned(),
            RoleKind::Target => format!(
                "Target role Argo CD assumes from {} (kubectl-argocd-eks)",
                role_management_arn(role)
            ),
        };
        return step(
            role,
            Change::Create,
            subject,
            format!("new role, trust policy with {statements} statement(s)"),
            Some(IamAction::CreateRole {
                name,
                trust: creation_trust(role),
                description,
                then_trust: role.self_assume.then(|| role.trust_policy.clone()),
            }),
        );
    };
    let trust = repair_trust(&observed.trust, &role.trust_needs);
    if same_policy(&trust, &observed.trust) {
        return step(
            role,
            Change::Unchanged,
            subject,
            "already allows it".into(),
            None,
        );
    }
    let had = observed.trust.statements.len();
    let corrected = observed
        .trust
        .statements
        .iter()
        .zip(&trust.statements)
        .filter(|(old, new)| old != new)
        .count();
    let mut detail = format!(
        "add {} statement(s), keep the {had} there",
        trust.statements.len() - had
    );
    if corrected > 0 {
        detail.push_str(&format!(" ({corrected} of them corrected)"));
    }
    step(
        role,
        Change::Update,
        subject,
        detail,
        Some(IamAction::UpdateTrust { name, trust }),
    )
}

/// Put the permission policy; an existing one keeps the roles it already may assume
/// (clusters registered before still use them).
fn permission_step(
    role: &RolePolicies,
    policy: &NamedPolicy,
    existing: Option<&PolicyDocument>,
    pod_identity: bool,
) -> PlanStep {
    let name = role.arn.name().to_owned();
    let subject = policy_subject(&role.arn, &policy.name);
    let wanted_roles = assumable_roles(&policy.document);
    let Some(existing) = existing else {
        return step(
            role,
            Change::Create,
            subject,
            format!("sts:AssumeRole on {} role(s)", wanted_roles.len()),
            Some(IamAction::PutPolicy {
                role: name,
                document: policy.document.clone(),
            }),
        );
    };
    // Keep the roles it already may assume, and every statement someone else put there.
    let (document, kept) = repair_permissions(existing, &wanted_roles, pod_identity);
    let all = assumable_roles(&document);
    if same_policy(existing, &document) {
        return step(
            role,
            Change::Unchanged,
            subject,
            format!("sts:AssumeRole on {} role(s)", all.len()),
            None,
        );
    }
    let new = wanted_roles.difference(&kept).count();
    step(
        role,
        Change::Update,
        subject,
        format!(
            "sts:AssumeRole on {} role(s), {new} of them new{}",
            all.len(),
            if kept.is_empty() {
                ""
            } else {
                ", keeping the ones it had"
            }
        ),
        Some(IamAction::PutPolicy {
            role: name,
            document,
        }),
    )
}

/// Direct mode needs no permission policy: say how to drop the one the role still has.
fn unneeded_inline_note(role: &RolePolicies, existing: &PolicyDocument) -> String {
    let roles: Vec<String> = assumable_roles(existing)
        .iter()
        .map(ToString::to_string)
        .collect();
    format!(
        "role {} keeps its inline policy {INLINE_POLICY} (sts:AssumeRole on {}); direct mode does not need it: aws iam delete-role-policy --role-name {} --policy-name {INLINE_POLICY}",
        role.arn,
        if roles.is_empty() {
            "nothing".to_owned()
        } else {
            roles.join(", ")
        },
        role.arn.name()
    )
}

/// The trust policy a role is created with. IAM refuses a principal that does not exist yet: a
/// role that trusts itself is created without that statement, which is added right after.
pub(crate) fn creation_trust(role: &RolePolicies) -> PolicyDocument {
    let mut first = role.trust_policy.clone();
    if role.self_assume {
        first
            .statements
            .retain(|s| s.sid.as_deref() != Some("ArgoCdSelfAssume"));
    }
    first
}

/// The management role a target role's trust names.
fn role_management_arn(role: &RolePolicies) -> String {
    role.trust_policy
        .statements
        .iter()
        .find_map(|s| match &s.principal {
            Some(Principal::Of(kinds)) => kinds
                .get("AWS")
                .and_then(|v| v.iter().next())
                .map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{IdentityMode, SaRef};
    use crate::core::policy::document::missing_statements;
    use crate::core::policy::document::{STS_AUDIENCE, parse_policy};
    use crate::core::policy::generate::{
        management_permissions, oidc_provider_arn, self_assume_statement, target_role_trust,
        wanted_roles,
    };
    use crate::core::policy::repair::target_trust_needs;
    use std::collections::BTreeSet;

    const MGMT: &str = "arn:aws:iam::111122223333:role/argocd-management";
    const TARGET: &str = "arn:aws:iam::444455556666:role/argocd-deployer";

    fn role(text: &str) -> RoleArn {
        RoleArn::parse(text).unwrap()
    }

    fn provider() -> OidcProvider {
        let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC";
        OidcProvider {
            arn: oidc_provider_arn("aws", "111122223333", issuer),
            url: issuer.into(),
            client_ids: [STS_AUDIENCE],
        }
    }

    fn sas() -> Vec<SaRef> {
        vec![
            SaRef::new("argocd", "argocd-application-controller"),
            SaRef::new("argocd", "argocd-server"),
        ]
    }

    /// The roles for management role MGMT and `targets`: IRSA with the hub's provider, or pod
    /// identity with the hub's cluster unknown.
    fn wanted(mode: IdentityMode, targets: &[RoleArn]) -> Vec<RolePolicies> {
        let provider = (mode == IdentityMode::Irsa).then(provider);
        wanted_roles(mode, &role(MGMT), targets, provider.as_ref(), None, &sas())
    }

    #[test]
    fn direct_mode_has_one_role_and_no_permission_policy() {
        let roles = wanted(IdentityMode::Irsa, &[]);
        assert_eq!(roles.len(), 1);
        assert!(roles[0].permission_policies.is_empty());
        assert!(!roles[0].self_assume);
    }

    #[test]
    fn a_target_equal_to_the_management_role_becomes_self_assume() {
        let mgmt = role(MGMT);
        let roles = wanted(
            IdentityMode::PodIdentity,
            &[mgmt.clone(), role(TARGET), role(TARGET)],
        );
        assert_eq!(roles.len(), 2);
        assert!(roles[0].self_assume);
        let statement = self_assume_statement(&mgmt, true);
        assert!(roles[0].trust_policy.statements.contains(&statement));
        let allowed = assumable_roles(&roles[0].permission_policies[0].document);
        assert_eq!(allowed, BTreeSet::from([mgmt, role(TARGET)]));
        assert_eq!(roles[1].kind, RoleKind::Target);
        assert_eq!(roles[1].trust_policy, target_role_trust(&role(MGMT), true));
    }

    #[test]
    fn same_meaning_is_same_policy() {
        let a = parse_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"X","Effect":"Allow","Action":["sts:TagSession","sts:AssumeRole"],"Resource":["{TARGET}","{MGMT}"]}}]}}"#
        ))
        .unwrap();
        let b = management_permissions(&[role(MGMT), role(TARGET)], true).unwrap();
        assert!(same_policy(&a, &b));
        let c = management_permissions(&[role(MGMT)], true).unwrap();
        assert!(!same_policy(&a, &c));
    }

    #[test]
    fn trust_updates_add_what_is_missing_and_keep_the_rest() {
        let wanted = target_role_trust(&role(MGMT), true);
        let other = target_role_trust(&role("arn:aws:iam::111122223333:role/other"), false);
        let plan = plan_role(
            &RolePolicies {
                arn: role(TARGET),
                kind: RoleKind::Target,
                self_assume: false,
                purpose: String::new(),
                trust_policy: wanted.clone(),
                permission_policies: Vec::new(),
                trust_needs: target_trust_needs(&role(MGMT), None, &[], true),
            },
            Some(&ObservedRole {
                trust: other.clone(),
                inline: None,
            }),
            true,
            &mut Vec::new(),
        );
        let Some(IamAction::UpdateTrust { trust, .. }) = &plan[0].write else {
            panic!("{plan:?}");
        };
        assert_eq!(trust.statements.len(), 2);
        assert!(trust.statements.contains(&other.statements[0]));
        assert!(missing_statements(trust, &wanted).is_empty());
    }

    #[test]
    fn self_assume_roles_are_created_first_without_trusting_themselves() {
        let mgmt = role(MGMT);
        let roles = wanted(IdentityMode::Irsa, std::slice::from_ref(&mgmt));
        let plan = plan_role(&roles[0], None, false, &mut Vec::new());
        let Some(IamAction::CreateRole {
            trust, then_trust, ..
        }) = &plan[0].write
        else {
            panic!("{plan:?}");
        };
        assert!(!trust.to_string().contains(MGMT));
        assert_eq!(then_trust.as_ref(), Some(&roles[0].trust_policy));
        assert_eq!(plan[1].change, Change::Create);
    }

    #[test]
    fn permission_updates_keep_roles_already_allowed() {
        let old = role("arn:aws:iam::444455556666:role/old");
        let roles = wanted(IdentityMode::Irsa, &[role(TARGET)]);
        let observed = ObservedRole {
            trust: roles[0].trust_policy.clone(),
            inline: management_permissions(std::slice::from_ref(&old), false),
        };
        let plan = plan_role(&roles[0], Some(&observed), false, &mut Vec::new());
        assert_eq!(plan[0].change, Change::Unchanged);
        let Some(IamAction::PutPolicy { document, .. }) = &plan[1].write else {
            panic!("{plan:?}");
        };
        assert_eq!(
            assumable_roles(document),
            BTreeSet::from([old, role(TARGET)])
        );
        let again = ObservedRole {
            trust: roles[0].trust_policy.clone(),
            inline: Some(document.clone()),
        };
        let plan = plan_role(&roles[0], Some(&again), false, &mut Vec::new());
        assert!(
            plan.iter().all(|s| s.change == Change::Unchanged),
            "{plan:?}"
        );
    }
}
