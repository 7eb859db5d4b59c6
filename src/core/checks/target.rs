//! Links 3 to 6 of doctor's chain for one registered cluster: the role chain, the target's
//! access entry or aws-auth mapping, the Secret against DescribeCluster, and connecting.

use super::chain::chain_checks;
use super::{
    Connection, Finding, HubFacts, MapRole, Section, TargetFacts, detect_identity, role_name,
};
use crate::core::model::{ClusterArn, DEFAULT_ACCESS_POLICY, Lookup, RoleArn};
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
    let identity = detect_identity(hub);

    // The Secret's own fields.
    let (role_finding, target_role) = role_arn_finding(secret, auth.as_ref());
    let mut findings = vec![role_finding];
    if let (Some(arn), Some(auth)) = (&target.cluster_arn, &auth) {
        findings.push(cluster_name_finding(secret, arn, auth));
    }
    findings.push(described_finding(target, config.as_ref()));

    // The role chain.
    let management = identity
        .as_ref()
        .and_then(|(_, arn)| RoleArn::parse(arn).ok());
    if let (Some(target_role), Some(management), Some((mode, _))) =
        (&target_role, &management, &identity)
    {
        findings.extend(chain_checks(hub, target, target_role, management, *mode));
    }

    // Target access, then connecting as Argo CD does.
    let principal = target_role.or(management);
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

/// The target lets `principal` in: an access entry with a policy, or an aws-auth mapping.
fn access_finding(target: &TargetFacts, principal: Option<&RoleArn>) -> Finding {
    let check = "the target lets the role in (access entry with a policy)";
    let auth_mode = target.described.found().and_then(|c| c.authentication_mode);
    match (&target.access_entry, principal, &target.cluster_arn) {
        (_, _, _) if auth_mode.is_some_and(|m| !m.allows_access_entries()) => {
            aws_auth_finding(principal, &target.aws_auth)
        }
        (Lookup::Found(policies), Some(p), _) if !policies.is_empty() => Finding::pass(
            check,
            format!(
                "{p}: {}",
                policies
                    .iter()
                    .map(|a| role_name(&a.policy_arn).to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (entry @ (Lookup::Found(_) | Lookup::Absent), Some(p), Some(arn)) => {
            // The policy ARN is in the target's partition; an entry that exists is not made again.
            let policy = Partition::of_arn(&arn.partition).access_policy_arn(DEFAULT_ACCESS_POLICY);
            let associate = format!(
                "aws eks associate-access-policy --cluster-name {0} --region {1} --principal-arn {p} --policy-arn {policy} --access-scope type=cluster",
                arn.name, arn.region
            );
            let (what, fix) = if entry.found().is_some() {
                (
                    format!("{p} has an access entry but no access policy"),
                    associate,
                )
            } else {
                (
                    format!("no access entry for {p}"),
                    format!(
                        "aws eks create-access-entry --cluster-name {0} --region {1} --principal-arn {p}; {associate}",
                        arn.name, arn.region
                    ),
                )
            };
            Finding::fail(check, what, fix)
        }
        _ => Finding::cannot_tell(check, "the access entry could not be read"),
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
            (Some(role), Lookup::Found(policies), _) if !policies.is_empty() => {
                let names: Vec<&str> = policies.iter().map(|a| role_name(&a.policy_arn)).collect();
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

/// For a cluster that reads only aws-auth: its mapRoles must name the role by its role ARN
/// without path (aws-auth compares that form), never by an assumed-role session ARN.
pub(super) fn aws_auth_finding(principal: Option<&RoleArn>, aws_auth: &Lookup<String>) -> Finding {
    let check = "aws-auth maps the role (the cluster takes no access entries)";
    let Some(principal) = principal else {
        return Finding::cannot_tell(check, "the role that reaches the cluster is unknown");
    };
    let without_path = format!(
        "arn:{}:iam::{}:role/{}",
        principal.partition,
        principal.account,
        principal.name()
    );
    let session_prefix = format!(
        "arn:{}:sts::{}:assumed-role/{}/",
        principal.partition,
        principal.account,
        principal.name()
    );
    let fix = format!(
        "kubectl -n kube-system edit configmap aws-auth on that cluster, and in mapRoles use:\n    - rolearn: {without_path}\n      username: argocd\n      groups:\n        - system:masters"
    );
    let text = match aws_auth {
        Lookup::Unknown => {
            return Finding::cannot_tell(
                check,
                "there is no kube context for this cluster here (aws eks update-kubeconfig --name <cluster>), so its aws-auth was not read",
            );
        }
        Lookup::Absent => return Finding::fail(check, "there is no aws-auth ConfigMap", fix),
        Lookup::Found(text) => text,
    };
    let entries: Vec<MapRole> = match serde_saphyr::from_str(text) {
        Ok(entries) => entries,
        Err(e) => return Finding::fail(check, format!("mapRoles is not valid YAML: {e}"), fix),
    };
    if let Some(entry) = entries.iter().find(|e| e.rolearn == without_path) {
        return Finding::pass(
            check,
            format!("{without_path} -> {}", entry.groups.join(", ")),
        );
    }
    if let Some(entry) = entries
        .iter()
        .find(|e| e.rolearn.starts_with(&session_prefix))
    {
        return Finding::fail(
            check,
            format!(
                "mapRoles has the assumed-role session ARN {}; aws-auth matches the role ARN",
                entry.rolearn
            ),
            fix,
        );
    }
    if entries.iter().any(|e| e.rolearn == principal.to_string()) {
        return Finding::fail(
            check,
            format!(
                "mapRoles has {principal} with its path; aws-auth matches the role ARN without the path"
            ),
            fix,
        );
    }
    Finding::fail(check, format!("no mapRoles entry for {without_path}"), fix)
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
