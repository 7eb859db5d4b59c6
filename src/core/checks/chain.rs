//! Link 3 of doctor's chain: the management role may assume the target role, and the target
//! role trusts it (with sts:TagSession under pod identity, and itself when it is the same role).

use super::{Finding, RoleFacts, json, update_trust_fix};
use crate::core::model::RoleArn;
use crate::core::policy::document::{ASSUME_ROLE, TAG_SESSION};
use crate::core::policy::evaluate::{Request, RequestPrincipal};
use crate::core::policy::{diagnose, evaluate, generate};

/// One hop of a role chain: `from` (the role the pods have) assumes `to`.
pub(super) struct Hop<'a> {
    pub(super) from: &'a RoleArn,
    pub(super) from_facts: Option<&'a RoleFacts>,
    pub(super) to: &'a RoleArn,
    pub(super) to_facts: Option<&'a RoleFacts>,
    /// Pod identity with session tags: they are transitive, so `to` must allow sts:TagSession.
    pub(super) session_tags: bool,
    /// `sts:ExternalId` on the request (EKS sends the association's for native chaining).
    pub(super) external_id: Option<&'a str>,
}

pub(super) fn chain_checks(hop: &Hop<'_>) -> Vec<Finding> {
    let (management, target_role, pod_identity) = (hop.from, hop.to, hop.session_tags);
    let mut findings = Vec::new();
    let actions: &[&str] = if pod_identity {
        &[ASSUME_ROLE, TAG_SESSION]
    } else {
        &[ASSUME_ROLE]
    };
    let session = RequestPrincipal::Aws(management.to_string());
    let assume = |request: Request| match hop.external_id {
        Some(id) => request.with_context("sts:ExternalId", &[id]),
        None => request,
    };
    if target_role == management {
        // Argo CD still calls sts:AssumeRole on roleARN: the role must trust itself (#17064).
        let check = "roleARN is the management role: it trusts itself";
        let fix = format!(
            "remove roleARN from the Secret (direct mode), or add to the role's trust policy: {}",
            serde_json::to_string(&generate::self_assume_statement(management, pod_identity))
                .unwrap_or_default()
        );
        findings.push(match hop.from_facts.and_then(|r| r.trust.as_ref()) {
            Some(doc) => {
                let missing = diagnose::missing_actions(
                    doc,
                    &assume(Request::new(ASSUME_ROLE, session)),
                    actions,
                );
                if missing.is_empty() {
                    Finding::pass(check, "self-assume allowed")
                } else {
                    Finding::fail(check, format!("denied: {}", missing.join(", ")), fix)
                }
            }
            None => Finding::cannot_tell(check, "the management role could not be read"),
        });
        return findings;
    }
    let check = "the management role may sts:AssumeRole the target role";
    findings.push(match hop.from_facts {
        Some(RoleFacts { permissions, .. }) => {
            let request = Request::new(ASSUME_ROLE, session.clone()).with_resource(&target_role.to_string());
            let allowed = permissions.iter().any(|doc| evaluate::allows(doc, &request).is_allowed());
            if allowed {
                Finding::pass(check, format!("on {target_role}"))
            } else {
                let wanted = generate::management_permissions(std::slice::from_ref(target_role), pod_identity);
                Finding::fail(
                    check,
                    "no permission policy of the management role allows it",
                    format!(
                        "aws iam put-role-policy --role-name {} --policy-name kubectl-argocd-eks --policy-document '{}'",
                        management.name(),
                        wanted.as_ref().map(json).unwrap_or_default()
                    ),
                )
            }
        }
        None => Finding::cannot_tell(check, "the management role could not be read"),
    });
    let check = if pod_identity {
        "the target role trusts the management role (AssumeRole + TagSession)"
    } else {
        "the target role trusts the management role"
    };
    findings.push(match hop.to_facts {
        Some(RoleFacts { trust: Some(doc), .. }) => {
            let missing = diagnose::missing_actions(doc, &assume(Request::new(ASSUME_ROLE, session)), actions);
            if missing.is_empty() {
                Finding::pass(check, "allowed")
            } else {
                let wanted = generate::target_role_trust(management, pod_identity);
                Finding::fail(
                    check,
                    format!("denied: {}{}", missing.join(", "), if missing.iter().any(|a| a == TAG_SESSION) { " (pod identity's session tags are transitive, so a chained role must allow sts:TagSession)" } else { "" }),
                    format!("in account {}: {}", target_role.account, update_trust_fix(target_role, &wanted)),
                )
            }
        }
        Some(RoleFacts { trust: None, .. }) => Finding::fail(check, format!("role {target_role} does not exist"), format!("kubectl argocd-eks policy --create --role-arn {target_role}")),
        None => Finding::cannot_tell(check, format!("the target role could not be read (reach account {} with --assume-role)", target_role.account)),
    });
    findings
}
