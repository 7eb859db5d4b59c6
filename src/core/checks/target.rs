//! Links 3 to 6 of doctor's chain for one registered cluster: the role chain, the target's
//! access entry or aws-auth mapping, the Secret against DescribeCluster, and connecting.

use super::access::access_finding;
use super::{
    Connection, Finding, HubFacts, RoleFacts, Section, TargetFacts, json, native_target, pods_role,
    role_name, session_tags, update_trust_fix,
};
use crate::core::model::{ClusterArn, Lookup, RoleArn};
use crate::core::partition::Partition;
use crate::core::policy::document::{ASSUME_ROLE, TAG_SESSION};
use crate::core::policy::evaluate::{Request, RequestPrincipal};
use crate::core::policy::{diagnose, evaluate, generate};
use crate::core::secret::{AwsAuthConfig, ClusterConfig, ObservedSecret};

/// Links 3-5 for one registered cluster: role chain, target access, and the Secret itself.
pub(crate) fn target_checks(hub: &HubFacts, target: &TargetFacts) -> Section {
    let secret = &target.secret;
    let title = format!(
        "{} (Secret {}/{})",
        target
            .cluster_arn
            .as_ref()
            .map_or("unknown cluster".to_owned(), ToString::to_string),
        secret.namespace,
        secret.name
    );
    if hub.capability {
        return capability_target_checks(hub, target, title);
    }
    let config = secret.config();
    let auth = config.as_ref().and_then(|c| c.aws_auth_config.clone());

    // The Secret's own fields, as Argo CD decodes them.
    let (role_finding, target_role) = role_arn_finding(secret, auth.as_ref());
    let mut findings = vec![role_finding];
    if let Some(error) = secret.config_error() {
        findings.insert(
            0,
            Finding::fail(
                "Argo CD can read the Secret's config",
                error.to_string(),
                format!(
                    "kubectl argocd-eks add {} --secret-name {} rewrites it (Argo CD ignores the whole Secret until then)",
                    target
                        .cluster_arn
                        .as_ref()
                        .map_or("CLUSTER".to_owned(), ToString::to_string),
                    secret.name
                ),
            ),
        );
    }
    if let (Some(arn), Some(auth)) = (&target.cluster_arn, &auth) {
        findings.push(cluster_name_finding(secret, arn, auth));
    }
    findings.push(described_finding(target, config.as_ref()));

    // The role chain, from the role the pods end up with (native chaining's target, else
    // the management role).
    let start = pods_role(hub).and_then(|arn| RoleArn::parse(&arn).ok());
    let start_facts = if native_target(hub).is_some() {
        hub.native_target_role.as_ref()
    } else {
        hub.management_role.as_ref()
    };
    if let (Some(target_role), Some(start)) = (&target_role, &start) {
        findings.extend(chain_checks(&Hop {
            from: start,
            from_facts: start_facts,
            to: target_role,
            to_facts: target.target_role.as_ref(),
            session_tags: session_tags(hub),
            external_id: None,
        }));
    }

    // Target access, then connecting as Argo CD does.
    let principal = target_role.or(start);
    findings.push(access_finding(target, principal.as_ref()));
    findings.push(connection_finding(target, principal.as_ref()));
    Section { title, findings }
}

/// The Secret's roleARN, if any, must be a role's ARN; returns the role it names.
fn role_arn_finding(
    secret: &ObservedSecret,
    auth: Option<&AwsAuthConfig>,
) -> (Finding, Option<RoleArn>) {
    let check = "the Secret's roleARN is an IAM role ARN";
    match auth.and_then(|a| a.role_arn.as_deref()).map(RoleArn::parse) {
        None => (
            Finding::pass(
                check,
                "no roleARN: direct mode (the management role reaches the target)",
            ),
            None,
        ),
        Some(Ok(role)) => (Finding::pass(check, role.to_string()), Some(role)),
        Some(Err(e)) => (
            Finding::fail(
                check,
                e.to_string(),
                format!(
                    "kubectl -n {} edit secret {}: set config.awsAuthConfig.roleARN to arn:aws:iam::<account>:role/<name>",
                    secret.namespace, secret.name
                ),
            ),
            None,
        ),
    }
}

/// awsAuthConfig.clusterName and the server's region are the cluster's.
fn cluster_name_finding(
    secret: &ObservedSecret,
    arn: &ClusterArn,
    auth: &AwsAuthConfig,
) -> Finding {
    let check = "awsAuthConfig.clusterName and the server's region match the cluster";
    let host_region = secret
        .server()
        .and_then(|s| s.strip_suffix(".eks.amazonaws.com"))
        .and_then(|s| s.rsplit('.').next());
    let mut problems = Vec::new();
    if auth.cluster_name != arn.name {
        problems.push(format!(
            "clusterName is {:?}, the cluster is {:?}",
            auth.cluster_name, arn.name
        ));
    }
    if let Some(region) = host_region.filter(|r| *r != arn.region) {
        problems.push(format!(
            "the server is in {region}, the cluster in {}",
            arn.region
        ));
    }
    if problems.is_empty() {
        Finding::pass(check, format!("{} in {}", arn.name, arn.region))
    } else {
        Finding::fail(
            check,
            problems.join("; "),
            format!(
                "kubectl argocd-eks add {arn} --secret-name {} rewrites the Secret from DescribeCluster",
                secret.name
            ),
        )
    }
}

/// The Secret's server and caData against what DescribeCluster says now.
fn described_finding(target: &TargetFacts, config: Option<&ClusterConfig>) -> Finding {
    let secret = &target.secret;
    match &target.described {
        Lookup::Found(cluster) => {
            let mut problems = Vec::new();
            if secret.server() != Some(cluster.endpoint.trim_end_matches('/')) {
                problems.push(format!(
                    "server is {}, EKS says {}",
                    secret.server().unwrap_or("-"),
                    cluster.endpoint
                ));
            }
            let ca = config.and_then(|c| c.tls_client_config.ca_data.clone());
            if ca.as_deref() != Some(cluster.ca_data.as_str()) {
                problems.push(
                    "caData differs from the cluster's certificate authority (rotated?)".into(),
                );
            }
            if problems.is_empty() {
                Finding::pass(
                    "server and caData match DescribeCluster",
                    cluster.endpoint.clone(),
                )
            } else {
                Finding::fail(
                    "server and caData match DescribeCluster",
                    problems.join("; "),
                    format!(
                        "kubectl argocd-eks add {} --secret-name {} (updates server and caData)",
                        cluster.arn, secret.name
                    ),
                )
            }
        }
        Lookup::Absent => Finding::fail(
            "server and caData match DescribeCluster",
            "the cluster no longer exists",
            format!("kubectl argocd-eks remove {}", secret.name),
        ),
        Lookup::Unknown => Finding::cannot_tell(
            "server and caData match DescribeCluster",
            "the cluster could not be described from here (reach its account with --assume-role)",
        ),
    }
}

/// A Secret in the EKS Argo CD capability's format: the cluster exists, and the capability
/// role has an access entry with a policy there.
fn capability_target_checks(hub: &HubFacts, target: &TargetFacts, title: String) -> Section {
    let exists = "server names an existing EKS cluster";
    let mut findings = vec![match &target.described {
        Lookup::Found(cluster) => Finding::pass(exists, cluster.arn.to_string()),
        Lookup::Absent => Finding::fail(
            exists,
            "no such cluster",
            format!("kubectl argocd-eks remove {}", target.secret.name),
        ),
        Lookup::Unknown => Finding::cannot_tell(
            exists,
            "the cluster could not be described from here (reach its account with --assume-role)",
        ),
    }];
    let check = "the capability role has an access entry with a policy";
    findings.push(
        match (
            &hub.capability_role,
            &target.access_entry,
            &target.cluster_arn,
        ) {
            (None, _, _) => Finding::cannot_tell(check, "pass --capability-role ARN"),
            (Some(role), Lookup::Found(entry), _) if !entry.policies.is_empty() => {
                let names: Vec<&str> = entry
                    .policies
                    .iter()
                    .map(|a| role_name(&a.policy_arn))
                    .collect();
                Finding::pass(check, format!("{role}: {}", names.join(", ")))
            }
            (Some(role), Lookup::Found(_) | Lookup::Absent, Some(arn)) => Finding::fail(
                check,
                format!("no access entry with a policy for {role}"),
                format!("kubectl argocd-eks add {arn} --capability-role {role}"),
            ),
            _ => Finding::cannot_tell(check, "the access entry could not be read"),
        },
    );
    findings.push(connection_finding(target, hub.capability_role.as_ref()));
    Section { title, findings }
}

fn connection_finding(target: &TargetFacts, principal: Option<&RoleArn>) -> Finding {
    let check = "Argo CD's token is accepted by the cluster (connect)";
    match &target.connection {
        Some(Connection::Authenticated { username, groups }) => Finding::pass(
            check,
            format!(
                "authenticated as {username} (groups {}){}",
                groups.join(", "),
                // The token names the regional STS host of the target's partition.
                target
                    .cluster_arn
                    .as_ref()
                    .map_or(String::new(), |arn| format!(
                        ", token for {}",
                        Partition::of_arn(&arn.partition).sts_host(&arn.region)
                    ))
            ),
        ),
        Some(Connection::Rejected) => Finding::fail(
            check,
            format!(
                "the cluster answered 401 to a token for {}: the role is not mapped into it",
                principal.map_or("the role".to_owned(), ToString::to_string)
            ),
            "give the role an access entry with a policy (see the access check above), or map it in aws-auth",
        ),
        Some(Connection::CannotAssume(why)) => Finding::cannot_tell(check, why.clone()),
        Some(Connection::Unreachable(why)) => Finding::cannot_tell(
            check,
            format!("the endpoint is not reachable from here: {why}"),
        ),
        None => Finding::cannot_tell(
            check,
            "not attempted (the cluster or the roles are unknown)",
        ),
    }
}

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
