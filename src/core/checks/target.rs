//! Links 3 to 6 of doctor's chain for one registered cluster: the role chain, the target's
//! access entry or aws-auth mapping, the Secret against DescribeCluster, and connecting.

use super::access::access_finding;
use super::chain::{chain_checks, chain_mode};
use super::{
    Connection, Finding, HubFacts, Section, TargetFacts, native_target, pods_role, role_name,
};
use crate::core::model::{ClusterArn, Lookup, RoleArn};
use crate::core::partition::Partition;
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
    // the management role), with that role's own policies.
    let start = pods_role(hub).and_then(|arn| RoleArn::parse(&arn).ok());
    if let (Some(target_role), Some(start)) = (&target_role, &start) {
        let chained;
        let from = if native_target(hub).is_some() {
            chained = HubFacts {
                management_role: hub.native_target_role.clone(),
                ..hub.clone()
            };
            &chained
        } else {
            hub
        };
        findings.extend(chain_checks(
            from,
            target,
            target_role,
            start,
            chain_mode(hub),
        ));
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
        Some(Connection::UntrustedCertificate(why)) => Finding::fail(
            check,
            format!(
                "the endpoint's TLS certificate does not verify against the Secret's caData, as Argo CD verifies it: {why}"
            ),
            "make the Secret's server the cluster's own endpoint and its caData the CA DescribeCluster reports (kubectl argocd-eks add CLUSTER again writes both); if they are, something between here and the cluster (a proxy, a load balancer) shows another certificate. TLS verification is never turned off",
        ),
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
