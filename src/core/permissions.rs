//! What the person running the tool needs: the IAM actions of each API call the adapters make,
//! grouped by the commands that make them, and the Kubernetes RBAC on the hub. One source for
//! `policy --permissions` and the README's Security section.

use serde::Serialize;
use serde_json::{Value, json};

/// One statement of the caller's IAM policy: the actions one job needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) sid: &'static str,
    /// The commands (and modes) that make these calls.
    pub(crate) used_by: &'static str,
    pub(crate) actions: &'static [&'static str],
    /// Whether the resources are IAM roles (narrowed to the roles given with the flags).
    pub(crate) on_roles: bool,
}

/// Every AWS call the tool makes, as IAM actions. `sts:GetCallerIdentity` needs no permission
/// (AWS always allows it) and is not listed. Tags on create (the managed-by tag on
/// associations, access entries, roles and the OIDC provider) need the Tag* actions.
pub(crate) const GRANTS: [Grant; 8] = [
    Grant {
        sid: "ReadClusters",
        used_by: "add, list, remove, doctor: find the clusters and read their identity and access",
        actions: &[
            "eks:ListClusters",
            "eks:DescribeCluster",
            "eks:DescribeAddon",
            "eks:ListPodIdentityAssociations",
            "eks:DescribePodIdentityAssociation",
            "eks:DescribeAccessEntry",
            "eks:ListAssociatedAccessPolicies",
        ],
        on_roles: false,
    },
    Grant {
        sid: "ReadRoles",
        used_by: "add (its checks before writing; guided, the roles whose trust fits), doctor, policy: read the roles' trust and permission policies and the IAM OIDC providers",
        actions: &[
            "iam:GetRole",
            "iam:ListRoles",
            "iam:ListRolePolicies",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:ListOpenIDConnectProviders",
        ],
        on_roles: false,
    },
    Grant {
        sid: "AddPodIdentity",
        used_by: "add with pod identity: the hub's pod identity associations",
        actions: &[
            "eks:CreatePodIdentityAssociation",
            "eks:UpdatePodIdentityAssociation",
            "eks:TagResource",
        ],
        on_roles: false,
    },
    Grant {
        sid: "PassRolesToPodIdentity",
        used_by: "add with pod identity: EKS requires iam:PassRole on the roles an association names (the management role; the target role too with --native-chaining)",
        actions: &["iam:PassRole"],
        on_roles: true,
    },
    Grant {
        sid: "AddTargetAccess",
        used_by: "add (unless --skip-access): the target's access entry and access policy",
        actions: &[
            "eks:CreateAccessEntry",
            "eks:AssociateAccessPolicy",
            "eks:TagResource",
        ],
        on_roles: false,
    },
    Grant {
        sid: "Remove",
        used_by: "remove: the associations and access entries no registration needs any more",
        actions: &["eks:DeletePodIdentityAssociation", "eks:DeleteAccessEntry"],
        on_roles: false,
    },
    Grant {
        sid: "AssumeRoles",
        used_by: "--assume-role (any command), and doctor's connect check, which assumes the management and target roles as Argo CD does",
        actions: &["sts:AssumeRole"],
        on_roles: true,
    },
    Grant {
        sid: "PolicyCreate",
        used_by: "policy --create: create or update the roles and the hub's IAM OIDC provider",
        actions: &[
            "iam:CreateRole",
            "iam:TagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:PutRolePolicy",
            "iam:CreateOpenIDConnectProvider",
            "iam:TagOpenIDConnectProvider",
        ],
        on_roles: false,
    },
];

/// An IAM policy document, its fields in the order AWS writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct IamPolicy {
    pub(crate) version: &'static str,
    pub(crate) statement: Vec<IamStatement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct IamStatement {
    pub(crate) sid: &'static str,
    pub(crate) effect: &'static str,
    pub(crate) action: &'static [&'static str],
    pub(crate) resource: Value,
}

/// The caller's IAM policy document. `roles` narrows the role statements (PassRole,
/// AssumeRole) to those ARNs; empty: any role (`*`), to narrow by hand.
pub(crate) fn iam_policy(roles: &[String]) -> IamPolicy {
    let statement = GRANTS
        .iter()
        .map(|grant| IamStatement {
            sid: grant.sid,
            effect: "Allow",
            action: grant.actions,
            resource: if grant.on_roles && !roles.is_empty() {
                json!(roles)
            } else {
                json!("*")
            },
        })
        .collect();
    IamPolicy {
        version: "2012-10-17",
        statement,
    }
}

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rule {
    pub(crate) api_groups: &'static [&'static str],
    pub(crate) resources: &'static [&'static str],
    pub(crate) verbs: &'static [&'static str],
}

/// On the hub, in Argo CD's namespace: the cluster Secrets, the IRSA annotations, `--restart`,
/// and doctor's look at the pods.
pub(crate) const NAMESPACE_RULES: [Rule; 4] = [
    Rule {
        api_groups: &[""],
        resources: &["secrets"],
        verbs: &["get", "list", "create", "patch", "delete"],
    },
    Rule {
        api_groups: &[""],
        resources: &["serviceaccounts"],
        verbs: &["get", "list", "patch"],
    },
    Rule {
        api_groups: &[""],
        resources: &["pods"],
        verbs: &["list"],
    },
    Rule {
        api_groups: &["apps"],
        resources: &["statefulsets", "deployments"],
        verbs: &["patch"],
    },
];

/// On the hub, across namespaces: finding Argo CD's namespace (its service accounts), the
/// registrations of every namespace `remove` keeps identity for, the pod identity agent.
pub(crate) const CLUSTER_RULES: [Rule; 2] = [
    Rule {
        api_groups: &[""],
        resources: &["serviceaccounts", "secrets"],
        verbs: &["list"],
    },
    Rule {
        api_groups: &["apps"],
        resources: &["daemonsets"],
        verbs: &["get"],
    },
];

/// The Role (in `namespace`) and ClusterRole the hub needs, as objects `kubectl apply` takes.
pub(crate) fn rbac_objects(namespace: &str) -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "kubectl-argocd-eks", "namespace": namespace},
            "rules": NAMESPACE_RULES,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kubectl-argocd-eks"},
            "rules": CLUSTER_RULES,
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adapters' sources, where every AWS call is made.
    const ADAPTERS: [&str; 4] = [
        include_str!("../adapters/eks.rs"),
        include_str!("../adapters/iam.rs"),
        include_str!("../adapters/aws.rs"),
        include_str!("../adapters/assumed_role.rs"),
    ];
    /// Actions no SDK method stands for: implied by a call's parameters (tags, a role passed).
    const IMPLIED: [&str; 4] = [
        "eks:TagResource",
        "iam:TagRole",
        "iam:TagOpenIDConnectProvider",
        "iam:PassRole",
    ];

    fn normal(name: &str) -> String {
        name.chars()
            .filter(|c| *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    }

    /// Every `.method(` called in the adapters, normalised (no '_', lower case).
    fn called_methods() -> std::collections::BTreeSet<String> {
        let mut found = std::collections::BTreeSet::new();
        for source in ADAPTERS {
            for piece in source.split('.').skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && piece[name.len()..].starts_with('(') {
                    found.insert(normal(&name));
                }
            }
        }
        found
    }

    #[test]
    fn every_action_listed_is_a_call_the_adapters_make() {
        let called = called_methods();
        for grant in GRANTS {
            for action in grant.actions {
                if IMPLIED.contains(action) {
                    continue;
                }
                let operation = action.split_once(':').unwrap().1;
                // The SDK's AssumeRoleProvider makes the sts:AssumeRole calls.
                let by_provider = *action == "sts:AssumeRole"
                    && ADAPTERS.iter().any(|s| s.contains("AssumeRoleProvider"));
                assert!(
                    by_provider || called.contains(&normal(operation)),
                    "{action} ({}) is listed, but no adapter calls it",
                    grant.sid
                );
            }
        }
    }

    #[test]
    fn every_call_the_adapters_make_is_listed() {
        const VERBS: [&str; 10] = [
            "List",
            "Describe",
            "Get",
            "Create",
            "Update",
            "Delete",
            "Associate",
            "Put",
            "Assume",
            "Tag",
        ];
        let listed: Vec<String> = GRANTS
            .iter()
            .flat_map(|g| g.actions.iter())
            .map(|a| normal(a.split_once(':').unwrap().1))
            .collect();
        let mut checked = 0;
        for source in ADAPTERS {
            for literal in source.split('"').skip(1).step_by(2) {
                let is_operation = VERBS.iter().any(|v| literal.starts_with(v))
                    && literal.chars().all(|c| c.is_ascii_alphanumeric())
                    && literal.len() > 6;
                // GetCallerIdentity needs no permission; AWS allows it to everyone.
                if !is_operation || literal == "GetCallerIdentity" {
                    continue;
                }
                checked += 1;
                assert!(
                    listed.contains(&normal(literal)),
                    "the adapters call {literal}, which policy --permissions does not list"
                );
            }
        }
        assert!(
            checked > 20,
            "only {checked} operations found in the adapters"
        );
        // GetRole is called without an operation literal.
        assert!(called_methods().contains("getrole"));
    }

    #[test]
    fn roles_narrow_the_role_statements_only() {
        let role = "arn:aws:iam::111111111111:role/argocd-management".to_owned();
        let policy = iam_policy(std::slice::from_ref(&role));
        for statement in &policy.statement {
            let on_roles = ["PassRolesToPodIdentity", "AssumeRoles"].contains(&statement.sid);
            let expected = if on_roles { json!([role]) } else { json!("*") };
            assert_eq!(statement.resource, expected, "{}", statement.sid);
        }
        assert_eq!(iam_policy(&[]).statement[3].resource, "*");
    }
}
