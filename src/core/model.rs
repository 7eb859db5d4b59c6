//! The domain's value types: clusters, service accounts, identity modes, access, and the names
//! the tool owns (ARNs live in arn.rs and are re-exported here).

use std::fmt;

use serde::Serialize;

pub(crate) use super::arn::{ClusterArn, RoleArn};

/// Field manager for every server-side apply the tool makes.
pub(crate) const FIELD_MANAGER: &str = "kubectl-argocd-eks";
/// User-Agent of every Kubernetes request, so audit logs show who made it.
pub(crate) const USER_AGENT: &str = concat!("kubectl-argocd-eks/", env!("CARGO_PKG_VERSION"));
/// The AWS SDK's app name, so CloudTrail's userAgent shows who made a call.
pub(crate) const AWS_APP_NAME: &str = "kubectl-argocd-eks";
/// Label put on every object the tool owns.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub(crate) const MANAGED_BY_VALUE: &str = "kubectl-argocd-eks";
/// Argo CD's label that marks a Secret as a cluster registration.
pub(crate) const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
pub(crate) const SECRET_TYPE_CLUSTER: &str = "cluster";
/// The IRSA annotation EKS's pod identity webhook reads.
pub(crate) const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The EKS add-on that serves pod identity credentials.
pub(crate) const POD_IDENTITY_AGENT_ADDON: &str = "eks-pod-identity-agent";

/// Argo CD's service accounts that talk to target clusters, and whether Argo CD always has them.
pub(crate) const ARGOCD_SERVICE_ACCOUNTS: [(&str, bool); 3] = [
    ("argocd-application-controller", true),
    ("argocd-server", true),
    ("argocd-applicationset-controller", false),
];

/// A Kubernetes service account, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct SaRef {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl SaRef {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        SaRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for SaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// How Argo CD's pods get their AWS identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum IdentityMode {
    /// IAM roles for service accounts: an annotation on each service account.
    Irsa,
    /// EKS Pod Identity: one association per service account on the hub's EKS cluster.
    PodIdentity,
    /// AWS's managed Argo CD (the EKS Argo CD capability): its capability role reaches the
    /// targets; nothing to set up on the hub's service accounts.
    Capability,
}

impl fmt::Display for IdentityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityMode::Irsa => "irsa",
            IdentityMode::PodIdentity => "pod-identity",
            IdentityMode::Capability => "capability",
        })
    }
}

/// Who may authenticate to a cluster, as EKS's `accessConfig.authenticationMode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum AuthenticationMode {
    ConfigMap,
    ApiAndConfigMap,
    Api,
}

impl AuthenticationMode {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "CONFIG_MAP" => Some(AuthenticationMode::ConfigMap),
            "API_AND_CONFIG_MAP" => Some(AuthenticationMode::ApiAndConfigMap),
            "API" => Some(AuthenticationMode::Api),
            _ => None,
        }
    }

    pub(crate) fn allows_access_entries(self) -> bool {
        !matches!(self, AuthenticationMode::ConfigMap)
    }
}

/// What DescribeCluster says about a target cluster, as far as registration needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EksCluster {
    pub(crate) arn: ClusterArn,
    pub(crate) endpoint: String,
    /// `certificateAuthority.data`, base64 of the PEM, kept exactly as EKS returns it.
    pub(crate) ca_data: String,
    pub(crate) status: String,
    pub(crate) version: Option<String>,
    pub(crate) oidc_issuer: Option<String>,
    pub(crate) authentication_mode: Option<AuthenticationMode>,
    /// EKS Auto Mode (`computeConfig.enabled`): the pod identity agent is built in.
    pub(crate) auto_mode: bool,
    /// The cluster's tags (the guided picker filters on them too).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) tags: std::collections::BTreeMap<String, String>,
}

/// An EKS pod identity association, as the hub's cluster has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PodIdentityAssociation {
    pub(crate) id: String,
    pub(crate) service_account: SaRef,
    pub(crate) role_arn: String,
    /// Created by this tool (it tags what it creates with the managed-by label).
    pub(crate) managed_by_us: bool,
    /// When EKS last changed it (Unix seconds), if it said.
    pub(crate) changed_at: Option<i64>,
    /// `targetRoleArn`: EKS assumes this role with `role_arn`'s session (native chaining), and
    /// the pods get the target role's credentials.
    pub(crate) target_role_arn: Option<String>,
    /// `disableSessionTags`: EKS passes no session tags, so no role needs `sts:TagSession`.
    pub(crate) disable_session_tags: bool,
    /// `externalId`: EKS sends it as `sts:ExternalId` when it assumes the target role.
    pub(crate) external_id: Option<String>,
}

/// What a read found: the thing, nothing there, or it could not tell (the read failed or was
/// not made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup<T> {
    Found(T),
    Absent,
    Unknown,
}

impl<T> Lookup<T> {
    /// A read's result: `Ok(None)` is absent, an error is unknown.
    pub(crate) fn from_read<E>(read: Result<Option<T>, E>) -> Self {
        match read {
            Ok(Some(value)) => Lookup::Found(value),
            Ok(None) => Lookup::Absent,
            Err(_) => Lookup::Unknown,
        }
    }

    pub(crate) fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(value) => Some(value),
            Lookup::Absent | Lookup::Unknown => None,
        }
    }

    pub(crate) fn as_ref(&self) -> Lookup<&T> {
        match self {
            Lookup::Found(value) => Lookup::Found(value),
            Lookup::Absent => Lookup::Absent,
            Lookup::Unknown => Lookup::Unknown,
        }
    }
}

/// The access policy `add` associates unless told otherwise.
pub(crate) const DEFAULT_ACCESS_POLICY: &str = "AmazonEKSClusterAdminPolicy";

/// Where an EKS access policy applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "namespaces", rename_all = "lowercase")]
pub(crate) enum AccessScope {
    Cluster,
    Namespace(Vec<String>),
}

impl fmt::Display for AccessScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessScope::Cluster => f.write_str("cluster"),
            AccessScope::Namespace(namespaces) => write!(f, "namespaces {}", namespaces.join(",")),
        }
    }
}

/// An access policy associated with an access entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AccessPolicyAssociation {
    pub(crate) policy_arn: String,
    pub(crate) scope: AccessScope,
}

/// An EKS access entry: its access policies and the Kubernetes groups it puts the role in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct AccessEntry {
    pub policies: Vec<AccessPolicyAssociation>,
    /// `kubernetesGroups`: RBAC bindings of these groups give the role its rights.
    pub kubernetes_groups: Vec<String>,
}

/// A RoleBinding or ClusterRoleBinding on a target cluster that binds Kubernetes groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GroupBinding {
    /// `ClusterRoleBinding NAME` or `RoleBinding NAMESPACE/NAME`.
    pub binding: String,
    /// `ClusterRole NAME` or `Role NAME`.
    pub role: String,
    pub groups: Vec<String>,
}

/// A service account on the hub as read; `irsa_role` is its `eks.amazonaws.com/role-arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObservedServiceAccount {
    pub(crate) name: String,
    pub(crate) irsa_role: Option<String>,
    /// When the IRSA annotation was last written (Unix seconds, from managedFields), if known.
    pub(crate) irsa_changed_at: Option<i64>,
    /// The object's resourceVersion as read: an annotation is written only while it still is
    /// (compare-and-swap), with no read just before the write.
    pub(crate) resource_version: Option<String>,
}

/// A pod of one of Argo CD's service accounts, with when it was created (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodFacts {
    pub(crate) name: String,
    pub(crate) service_account: String,
    pub(crate) created: i64,
}
