//! Link 4 of doctor's chain: the target lets the role in, as EKS decides it. An access entry
//! wins over aws-auth for the same role (API_AND_CONFIG_MAP); without an entry, aws-auth's
//! mapRoles counts where the cluster reads it; an entry or mapping that gives only Kubernetes
//! groups is enough when RBAC on the cluster binds one of them.

use super::{Finding, TargetFacts, role_name};
use crate::core::aws_auth::{self, MapRolesMatch};
use crate::core::model::{
    AuthenticationMode, DEFAULT_ACCESS_POLICY, GroupBinding, Lookup, RoleArn,
};
use crate::core::partition::Partition;

/// The access check for `principal`, the role that reaches the target.
pub(super) fn access_finding(target: &TargetFacts, principal: Option<&RoleArn>) -> Finding {
    let mode = target.described.found().and_then(|c| c.authentication_mode);
    if mode == Some(AuthenticationMode::ConfigMap) {
        return aws_auth_finding(
            "aws-auth maps the role (the cluster takes no access entries)",
            principal,
            target,
        );
    }
    let both = mode == Some(AuthenticationMode::ApiAndConfigMap);
    let check = if both {
        "the target lets the role in (access entry, else aws-auth)"
    } else {
        "the target lets the role in (access entry with a policy)"
    };
    let (false, Some(principal)) = (target.access_entry == Lookup::Unknown, principal) else {
        return Finding::cannot_tell(check, "the access entry could not be read");
    };
    // The policy ARN is in the target's partition; an entry that exists is not made again.
    let fix = target.cluster_arn.as_ref().map_or_else(
        || "give the role an access entry with an access policy on that cluster".to_owned(),
        |arn| {
            let policy = Partition::of_arn(&arn.partition).access_policy_arn(DEFAULT_ACCESS_POLICY);
            let associate = format!(
                "aws eks associate-access-policy --cluster-name {0} --region {1} --principal-arn {principal} --policy-arn {policy} --access-scope type=cluster",
                arn.name, arn.region
            );
            if target.access_entry.found().is_some() {
                associate
            } else {
                format!(
                    "aws eks create-access-entry --cluster-name {0} --region {1} --principal-arn {principal}; {associate}",
                    arn.name, arn.region
                )
            }
        },
    );
    match target.access_entry.found() {
        Some(entry) if !entry.policies.is_empty() => {
            let names: Vec<&str> = entry
                .policies
                .iter()
                .map(|a| role_name(&a.policy_arn))
                .collect();
            Finding::pass(check, format!("{principal}: {}", names.join(", ")))
        }
        Some(entry) if !entry.kubernetes_groups.is_empty() => groups_finding(
            check,
            &format!("{principal}'s access entry"),
            &entry.kubernetes_groups,
            target.group_bindings.as_deref(),
            &fix,
        ),
        Some(_) => Finding::fail(
            check,
            if both {
                format!(
                    "{principal} has an access entry but no access policy and no Kubernetes groups; the entry wins over any aws-auth mapping of the role"
                )
            } else {
                format!("{principal} has an access entry but no access policy")
            },
            fix,
        ),
        None if both => {
            let mapped = aws_auth_finding(check, Some(principal), target);
            match mapped.status {
                super::Status::Fail => Finding::fail(
                    check,
                    format!("no access entry for {principal}, and {}", mapped.detail),
                    fix,
                ),
                _ => mapped,
            }
        }
        None => Finding::fail(check, format!("no access entry for {principal}"), fix),
    }
}

/// Whether RBAC on the target binds one of `groups` (the role's only rights come from that).
fn groups_finding(
    check: &str,
    whose: &str,
    groups: &[String],
    bindings: Option<&[GroupBinding]>,
    fix: &str,
) -> Finding {
    if groups.iter().any(|g| g == "system:masters") {
        return Finding::pass(check, format!("{whose} puts it in system:masters"));
    }
    let listed = groups.join(", ");
    let Some(bindings) = bindings else {
        return Finding::cannot_tell(
            check,
            format!(
                "{whose} gives groups [{listed}] and no access policy; the cluster's RoleBindings and ClusterRoleBindings could not be read here (no kube context for it, or not allowed), so whether RBAC binds them is unknown"
            ),
        );
    };
    let bound: Vec<String> = bindings
        .iter()
        .filter(|b| b.groups.iter().any(|g| groups.contains(g)))
        .map(|b| format!("{} ({})", b.binding, b.role))
        .collect();
    if bound.is_empty() {
        Finding::fail(
            check,
            format!(
                "{whose} gives groups [{listed}] and no access policy, and no RoleBinding or ClusterRoleBinding on the cluster binds them: the role gets in but may do nothing"
            ),
            format!(
                "bind a group on that cluster (e.g. kubectl create clusterrolebinding argocd-manager --clusterrole=cluster-admin --group={}), or: {fix}",
                groups[0]
            ),
        )
    } else {
        Finding::pass(
            check,
            format!(
                "{whose} gives groups [{listed}], bound by {}",
                bound.join(", ")
            ),
        )
    }
}

/// The role's mapRoles entry, as aws-iam-authenticator matches it: keys in any case, the role
/// ARN without its path, compared case-insensitively, never an assumed-role session ARN.
pub(super) fn aws_auth_finding(
    check: &str,
    principal: Option<&RoleArn>,
    target: &TargetFacts,
) -> Finding {
    let Some(principal) = principal else {
        return Finding::cannot_tell(check, "the role that reaches the cluster is unknown");
    };
    let canonical = aws_auth::canonical_arn(principal);
    let fix = format!(
        "kubectl -n kube-system edit configmap aws-auth on that cluster, and in mapRoles use:\n    - rolearn: {canonical}\n      username: argocd\n      groups:\n        - system:masters"
    );
    let text = match &target.aws_auth {
        Lookup::Unknown => {
            return Finding::cannot_tell(
                check,
                "there is no kube context for this cluster here (aws eks update-kubeconfig --name <cluster>), so its aws-auth was not read",
            );
        }
        Lookup::Absent => return Finding::fail(check, "there is no aws-auth ConfigMap", fix),
        Lookup::Found(text) => text,
    };
    let mappings = match aws_auth::parse_map_roles(text) {
        Ok(mappings) => mappings,
        Err(e) => {
            return Finding::fail(
                check,
                format!("mapRoles is not valid YAML, so the authenticator uses none of it: {e}"),
                fix,
            );
        }
    };
    match aws_auth::find_role(&mappings, principal) {
        MapRolesMatch::Mapped(entry) => groups_finding(
            check,
            &format!("aws-auth's entry {}", entry.rolearn),
            &entry.groups,
            target.group_bindings.as_deref(),
            &fix,
        ),
        MapRolesMatch::SessionArn(entry) => Finding::fail(
            check,
            format!(
                "mapRoles has the assumed-role session ARN {}; aws-auth matches the role ARN",
                entry.rolearn
            ),
            fix,
        ),
        MapRolesMatch::WithPath(entry) => Finding::fail(
            check,
            format!(
                "mapRoles has {} with its path; aws-auth matches the role ARN without the path",
                entry.rolearn
            ),
            fix,
        ),
        MapRolesMatch::None => {
            Finding::fail(check, format!("no mapRoles entry for {canonical}"), fix)
        }
    }
}
