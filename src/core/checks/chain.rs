//! Link 3 of doctor's chain: Argo CD's management role assumes the Secret's roleARN. IAM allows
//! that when the target role's trust allows the management role's sessions, and, unless that
//! trust names the role directly in its own account, the management role's policies allow it
//! too; an explicit Deny anywhere wins. Under pod identity both must allow sts:TagSession.

use super::fixes::{deny_fix, permission_fix, statement_name, trust_fix};
use super::{Finding, HubFacts, RoleFacts, TargetFacts, argocd_service_accounts, session_tags};
use crate::core::model::{IdentityMode, Lookup, RoleArn};
use crate::core::policy::diagnose::{Verdict, verdict};
use crate::core::policy::document::{PolicyDocument, TAG_SESSION};
use crate::core::policy::evaluate::{Request, allows};
use crate::core::policy::repair::session_requests;

/// The management role's sessions (one per Argo CD service account under pod identity, whose
/// transitive tags they carry) calling sts:AssumeRole, and sts:TagSession under pod identity.
fn requests(hub: &HubFacts, management: &RoleArn, mode: IdentityMode) -> Vec<Request> {
    let pod_identity = mode == IdentityMode::PodIdentity;
    let hub_arn = hub.hub_cluster.as_ref().map(|c| &c.arn);
    session_requests(
        management,
        pod_identity,
        hub_arn,
        &argocd_service_accounts(hub),
    )
}

/// The trust lets every request in by naming the role (or `*`), not only its account.
fn trusts_directly(trust: &PolicyDocument, requests: &[Request]) -> bool {
    requests.iter().all(|r| {
        let decision = allows(trust, r);
        decision.is_allowed() && !decision.via_account
    })
}

pub(super) fn chain_checks(
    hub: &HubFacts,
    target: &TargetFacts,
    target_role: &RoleArn,
    management: &RoleArn,
    mode: IdentityMode,
) -> Vec<Finding> {
    let requests = requests(hub, management, mode);
    if target_role == management {
        return vec![self_assume_check(hub, management, mode, &requests)];
    }
    let target_trust = target.target_role.as_ref().and_then(|r| r.trust.as_ref());
    let direct = target_role.account == management.account
        && target_trust.is_some_and(|t| trusts_directly(t, &requests));
    vec![
        permission_check(hub, target_role, mode, &requests, direct),
        target_trust_check(
            hub,
            target.target_role.as_ref(),
            target_role,
            management,
            mode,
            &requests,
        ),
    ]
}

/// The trust half of the hop, as `add` checks it before writing: the target role (or, when it
/// is the management role, that role itself) lets the management role's sessions assume it.
/// `target_facts`: the target role as read (None: it could not be read).
pub(super) fn trust_of_target(
    hub: &HubFacts,
    target_facts: Option<&RoleFacts>,
    target_role: &RoleArn,
    management: &RoleArn,
    mode: IdentityMode,
) -> Finding {
    let requests = requests(hub, management, mode);
    if target_role == management {
        return self_assume_check(hub, management, mode, &requests);
    }
    target_trust_check(hub, target_facts, target_role, management, mode, &requests)
}

/// roleARN = the management role: Argo CD still calls sts:AssumeRole on it, and IAM no longer
/// trusts a role's own sessions implicitly (Argo CD issue #17064).
fn self_assume_check(
    hub: &HubFacts,
    management: &RoleArn,
    mode: IdentityMode,
    requests: &[Request],
) -> Finding {
    let check = "roleARN is the management role: it trusts itself";
    let Some(
        facts @ RoleFacts {
            trust: Some(trust), ..
        },
    ) = &hub.management_role
    else {
        return Finding::cannot_tell(check, "the management role could not be read");
    };
    match verdict(&[trust], requests) {
        Verdict::Allowed if trusts_directly(trust, requests) => {
            Finding::pass(check, "its trust policy lets its own sessions assume it")
        }
        Verdict::Allowed => permission_check(hub, management, mode, requests, false),
        Verdict::CannotTell(why) => {
            Finding::cannot_tell(check, format!("it depends on {}", why.join(", ")))
        }
        Verdict::Denied { actions, deny } => {
            let fix = match deny {
                Some(at) => deny_fix(
                    management,
                    "its trust policy",
                    &statement_name(&[trust], at),
                ),
                None => format!(
                    "remove roleARN from the Secret (direct mode), or {}",
                    trust_fix(hub, mode, management, facts, Some(management)).unwrap_or_else(
                        || "kubectl argocd-eks policy --create --role-arn <this role>".into()
                    )
                ),
            };
            Finding::fail(check, format!("denied: {}", actions.join(", ")), fix)
        }
    }
}

/// The management role's own policies allow it to assume `target_role` (needed unless the
/// target role is in its account and its trust names it directly).
fn permission_check(
    hub: &HubFacts,
    target_role: &RoleArn,
    mode: IdentityMode,
    requests: &[Request],
    not_needed: bool,
) -> Finding {
    let check = "the management role may sts:AssumeRole the target role";
    let Some(management) = &hub.management_role else {
        return Finding::cannot_tell(check, "the management role could not be read");
    };
    let docs = management.documents();
    let on_target: Vec<Request> = requests
        .iter()
        .map(|r| r.clone().with_resource(&target_role.to_string()))
        .collect();
    match verdict(&docs, &on_target) {
        Verdict::Allowed => Finding::pass(check, format!("on {target_role}")),
        Verdict::CannotTell(why) => {
            Finding::cannot_tell(check, format!("it depends on {}", why.join(", ")))
        }
        Verdict::Denied {
            deny: Some(at),
            actions,
        } => {
            let policy = management
                .permissions
                .get(at.document)
                .map_or("a policy", |p| p.name.as_str());
            Finding::fail(
                check,
                format!(
                    "{} denied by statement {} of policy {policy}",
                    actions.join(", "),
                    statement_name(&docs, at)
                ),
                deny_fix(
                    &management.arn,
                    &format!("policy {policy}"),
                    &statement_name(&docs, at),
                ),
            )
        }
        Verdict::Denied { .. } if not_needed => Finding::pass(
            check,
            format!("not needed: {target_role} trusts it by name in the same account"),
        ),
        Verdict::Denied { actions, .. } => Finding::fail(
            check,
            format!(
                "no permission policy of the management role allows {}",
                actions.join(", ")
            ),
            permission_fix(hub, mode, management, target_role).unwrap_or_else(|| {
                "kubectl argocd-eks policy --create --role-arn <the target role>".into()
            }),
        ),
    }
}

fn target_trust_check(
    hub: &HubFacts,
    target_facts: Option<&RoleFacts>,
    target_role: &RoleArn,
    management: &RoleArn,
    mode: IdentityMode,
    requests: &[Request],
) -> Finding {
    let check = if mode == IdentityMode::PodIdentity {
        "the target role trusts the management role (AssumeRole + TagSession)"
    } else {
        "the target role trusts the management role"
    };
    let facts = match target_facts {
        Some(facts @ RoleFacts { trust: Some(_), .. }) => facts,
        Some(RoleFacts { trust: None, .. }) => {
            return Finding::fail(
                check,
                format!("role {target_role} does not exist"),
                format!("kubectl argocd-eks policy --create --role-arn {target_role}"),
            );
        }
        None => {
            return Finding::cannot_tell(
                check,
                format!(
                    "the target role could not be read (give the caller iam:GetRole, or reach account {} with --assume-role)",
                    target_role.account
                ),
            );
        }
    };
    let Some(trust) = &facts.trust else {
        return Finding::cannot_tell(check, "the target role's trust could not be read");
    };
    match verdict(&[trust], requests) {
        Verdict::Allowed => Finding::pass(check, "allowed"),
        Verdict::CannotTell(why) => {
            Finding::cannot_tell(check, format!("it depends on {}", why.join(", ")))
        }
        Verdict::Denied { actions, deny } => {
            let why = if actions.iter().any(|a| a == TAG_SESSION) {
                " (pod identity's session tags are transitive, so a chained role must allow sts:TagSession)"
            } else {
                ""
            };
            let fix = match deny {
                Some(at) => deny_fix(
                    target_role,
                    "its trust policy",
                    &statement_name(&[trust], at),
                ),
                None => trust_fix(hub, mode, management, facts, Some(target_role)).unwrap_or_else(
                    || format!("kubectl argocd-eks policy --create --role-arn {target_role}"),
                ),
            };
            Finding::fail(check, format!("denied: {}{why}", actions.join(", ")), fix)
        }
    }
}

/// Pod identity's native chaining: EKS assumes `target` (the association's targetRoleArn)
/// with `management`'s session, so the same checks hold for that hop (the target role's facts
/// are the hub's `native_target_role`). With session tags off, no sts:TagSession is needed.
pub(super) fn native_hop_checks(
    hub: &HubFacts,
    management: &RoleArn,
    target: &RoleArn,
) -> Vec<Finding> {
    let facts = TargetFacts {
        secret: crate::core::secret::ObservedSecret::default(),
        cluster_arn: None,
        described: Lookup::Unknown,
        target_role: hub.native_target_role.clone(),
        access_entry: Lookup::Unknown,
        connection: None,
        aws_auth: Lookup::Unknown,
        group_bindings: None,
    };
    chain_checks(hub, &facts, target, management, chain_mode(hub))
}

/// The identity mode as the chain's checks need it: pod identity with its session tags, or
/// (IRSA, or pod identity with session tags off) no sts:TagSession at all.
pub(super) fn chain_mode(hub: &HubFacts) -> IdentityMode {
    if session_tags(hub) {
        IdentityMode::PodIdentity
    } else {
        IdentityMode::Irsa
    }
}
