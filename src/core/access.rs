//! Target access: the access entry and access policy that let Argo CD's role into a target, or
//! the aws-auth entry to add by hand where the cluster only reads the aws-auth ConfigMap.

use std::collections::BTreeMap;

use super::action::{Action, Change, Step};
use super::model::{
    AccessPolicyAssociation, AccessScope, ClusterArn, DEFAULT_ACCESS_POLICY, EksCluster, RoleArn,
};
use super::partition::Partition;

/// EKS access policies by name, for the picker and for validating --access-policy.
pub(crate) const ACCESS_POLICIES: [&str; 4] = [
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
];

/// The access `add` gives the role that reaches a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetAccess {
    /// The access policy's name (`AmazonEKSClusterAdminPolicy`): its ARN depends on the
    /// target's partition.
    pub(crate) policy: String,
    pub(crate) scope: AccessScope,
}

impl TargetAccess {
    /// The policy's ARN in `cluster`'s partition (`arn:aws-cn:eks::aws:cluster-access-policy/...`).
    pub(crate) fn policy_arn(&self, cluster: &ClusterArn) -> String {
        Partition::of_arn(&cluster.partition).access_policy_arn(&self.policy)
    }
}

/// Per target cluster ARN: None when the principal has no access entry there, else the access
/// policies associated with its entry.
pub(crate) type ObservedAccess = BTreeMap<String, Option<Vec<AccessPolicyAssociation>>>;

/// The actions (access entry, policy association) for one target, or a note with the aws-auth
/// entry when the cluster does not take access entries.
pub(crate) fn access_actions(
    cluster: &EksCluster,
    principal: &RoleArn,
    wanted: &TargetAccess,
    observed: &ObservedAccess,
) -> (Vec<Action>, Option<String>) {
    let allows_entries = cluster
        .authentication_mode
        .is_some_and(|mode| mode.allows_access_entries());
    if !allows_entries {
        return (Vec::new(), Some(aws_auth_note(cluster, principal, wanted)));
    }
    let principal_arn = principal.clone();
    let policy_arn = wanted.policy_arn(&cluster.arn);
    let entry = observed.get(&cluster.arn.to_string()).cloned().flatten();
    let entry_action = Action {
        change: if entry.is_some() {
            Change::Unchanged
        } else {
            Change::Create
        },
        detail: format!("for {principal_arn}"),
        step: Step::CreateAccessEntry {
            cluster: cluster.arn.clone(),
            principal_arn: principal_arn.clone(),
        },
    };
    let current = entry
        .iter()
        .flatten()
        .find(|association| association.policy_arn == policy_arn);
    let (change, detail) = match current {
        None => (Change::Create, format!("scope {}", wanted.scope)),
        Some(association) if association.scope == wanted.scope => {
            (Change::Unchanged, format!("scope {}", wanted.scope))
        }
        Some(association) => (
            Change::Update,
            format!("scope {} -> {}", association.scope, wanted.scope),
        ),
    };
    let policy_action = Action {
        change,
        detail,
        step: Step::AssociateAccessPolicy {
            cluster: cluster.arn.clone(),
            principal_arn,
            policy_arn,
            scope: wanted.scope.clone(),
        },
    };
    (vec![entry_action, policy_action], None)
}

/// The mapRoles entry for a cluster that reads only the aws-auth ConfigMap. aws-auth matches
/// the role ARN without its path, so the path is dropped.
fn aws_auth_note(cluster: &EksCluster, principal: &RoleArn, wanted: &TargetAccess) -> String {
    let role = format!(
        "arn:{}:iam::{}:role/{}",
        principal.partition,
        principal.account,
        principal.name()
    );
    let (group, rbac) = match (&wanted.scope, wanted.policy == DEFAULT_ACCESS_POLICY) {
        (AccessScope::Cluster, true) => ("system:masters", String::new()),
        _ => (
            "argocd-manager",
            "\n  and bind the group argocd-manager to the RBAC role Argo CD needs there".to_owned(),
        ),
    };
    let why = match cluster.authentication_mode {
        Some(_) => "its authentication mode is CONFIG_MAP, so it takes no access entries",
        None => "EKS did not say its authentication mode",
    };
    format!(
        "{} ({why}): add this to mapRoles in the aws-auth ConfigMap (kube-system) on that cluster, e.g. with kubectl -n kube-system edit configmap aws-auth, or switch it to API_AND_CONFIG_MAP (aws eks update-cluster-config --name {} --access-config authenticationMode=API_AND_CONFIG_MAP) and run add again:\n    - rolearn: {role}\n      username: argocd\n      groups:\n        - {group}{rbac}",
        cluster.arn, cluster.arn.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::AuthenticationMode;

    fn cluster(mode: Option<AuthenticationMode>) -> EksCluster {
        EksCluster {
            arn: ClusterArn::new("aws", "eu-west-1", "210987654321", "team-b"),
            endpoint: "https://b.example".into(),
            ca_data: "Q0E=".into(),
            status: "ACTIVE".into(),
            version: None,
            oidc_issuer: None,
            authentication_mode: mode,
            auto_mode: false,
            tags: std::collections::BTreeMap::new(),
        }
    }

    fn admin(scope: AccessScope) -> TargetAccess {
        TargetAccess {
            policy: "AmazonEKSClusterAdminPolicy".into(),
            scope,
        }
    }

    fn role() -> RoleArn {
        RoleArn::parse("arn:aws:iam::210987654321:role/teams/argocd-deployer").unwrap()
    }

    fn observed_with(policies: Option<Vec<AccessPolicyAssociation>>) -> ObservedAccess {
        BTreeMap::from([(cluster(None).arn.to_string(), policies)])
    }

    fn changes(actions: &[Action]) -> Vec<Change> {
        actions.iter().map(|a| a.change).collect()
    }

    #[test]
    fn api_cluster_without_entry_gets_entry_and_policy() {
        let (actions, note) = access_actions(
            &cluster(Some(AuthenticationMode::Api)),
            &role(),
            &admin(AccessScope::Cluster),
            &ObservedAccess::new(),
        );
        assert_eq!(note, None);
        assert_eq!(changes(&actions), vec![Change::Create, Change::Create]);
        assert!(matches!(
            &actions[0].step,
            Step::CreateAccessEntry { principal_arn, .. }
                if principal_arn.to_string() == "arn:aws:iam::210987654321:role/teams/argocd-deployer"
        ));
    }

    #[test]
    fn existing_entry_and_policy_are_unchanged_and_a_new_scope_is_an_update() {
        let cluster_scope = AccessPolicyAssociation {
            policy_arn: admin(AccessScope::Cluster).policy_arn(&cluster(None).arn),
            scope: AccessScope::Cluster,
        };
        let observed = observed_with(Some(vec![cluster_scope]));
        let mode = Some(AuthenticationMode::ApiAndConfigMap);
        let (actions, _) = access_actions(
            &cluster(mode),
            &role(),
            &admin(AccessScope::Cluster),
            &observed,
        );
        assert_eq!(
            changes(&actions),
            vec![Change::Unchanged, Change::Unchanged]
        );

        let namespaces = AccessScope::Namespace(vec!["apps".into()]);
        let (actions, _) = access_actions(&cluster(mode), &role(), &admin(namespaces), &observed);
        assert_eq!(changes(&actions), vec![Change::Unchanged, Change::Update]);
        assert!(actions[1].detail.contains("cluster -> namespaces apps"));
    }

    #[test]
    fn entry_without_the_policy_gets_it_associated() {
        let (actions, _) = access_actions(
            &cluster(Some(AuthenticationMode::Api)),
            &role(),
            &admin(AccessScope::Cluster),
            &observed_with(Some(vec![])),
        );
        assert_eq!(changes(&actions), vec![Change::Unchanged, Change::Create]);
    }

    #[test]
    fn config_map_cluster_gets_the_aws_auth_entry_without_the_role_path() {
        let (actions, note) = access_actions(
            &cluster(Some(AuthenticationMode::ConfigMap)),
            &role(),
            &admin(AccessScope::Cluster),
            &ObservedAccess::new(),
        );
        assert!(actions.is_empty());
        let note = note.unwrap();
        assert!(
            note.contains("- rolearn: arn:aws:iam::210987654321:role/argocd-deployer\n"),
            "{note}"
        );
        assert!(note.contains("system:masters"));
        assert!(note.contains("authenticationMode=API_AND_CONFIG_MAP"));
    }

    #[test]
    fn namespace_scoped_aws_auth_entry_needs_rbac() {
        let (_, note) = access_actions(
            &cluster(None),
            &role(),
            &admin(AccessScope::Namespace(vec!["apps".into()])),
            &ObservedAccess::new(),
        );
        let note = note.unwrap();
        assert!(
            note.contains("argocd-manager") && note.contains("RBAC"),
            "{note}"
        );
        assert!(note.contains("did not say"));
    }

    #[test]
    fn the_policy_arn_is_in_the_targets_partition() {
        let china = EksCluster {
            arn: ClusterArn::new("aws-cn", "cn-north-1", "210987654321", "team-cn"),
            ..cluster(Some(AuthenticationMode::Api))
        };
        let (actions, _) = access_actions(
            &china,
            &role(),
            &admin(AccessScope::Cluster),
            &ObservedAccess::new(),
        );
        assert!(matches!(
            &actions[1].step,
            Step::AssociateAccessPolicy { policy_arn, .. }
                if policy_arn == "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        ));
    }
}
