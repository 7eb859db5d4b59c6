//! The outside world as small traits: the hub cluster, EKS, and the user's answers.

// The traits are implemented and awaited inside this crate on one runtime thread, so their
// futures need no `Send` bound.
#![allow(async_fn_in_trait)]

use crate::core::model::{ClusterArn, EksCluster, PodIdentityAssociation, SaRef};
use crate::core::plan::ObservedServiceAccount;
use crate::core::secret::{DesiredSecret, ObservedSecret};
use crate::error::Result;

/// What the kube context says about the hub, for finding its own EKS cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubContext {
    pub context: String,
    pub cluster: String,
    pub server: String,
    /// Arguments of the user's `exec` credential plugin, if any (e.g. `aws eks get-token ...`).
    pub exec_args: Vec<String>,
}

/// A write on the hub is either real or a server-side dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Real,
    ServerDryRun,
}

/// The cluster where Argo CD runs.
pub trait Hub {
    fn context(&self) -> &HubContext;
    /// Every Argo CD cluster Secret in `namespace`.
    async fn cluster_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>>;
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<ObservedSecret>>;
    async fn service_accounts(&self, namespace: &str) -> Result<Vec<ObservedServiceAccount>>;
    /// SelfSubjectAccessReview: may the caller `verb` `resource` in `namespace`?
    async fn can_i(&self, namespace: &str, verb: &str, resource: &str) -> Result<bool>;
    async fn apply_secret(&self, secret: &DesiredSecret, write: Write) -> Result<()>;
    async fn annotate_service_account(
        &self,
        service_account: &SaRef,
        key: &str,
        value: &str,
        write: Write,
    ) -> Result<()>;
}

/// Amazon EKS, in any region of the credentials' account.
pub trait Eks {
    /// DescribeCluster; None when there is no such cluster.
    async fn describe_cluster(&self, region: &str, name: &str) -> Result<Option<EksCluster>>;
    /// Whether the cluster has the add-on installed (DescribeAddon).
    async fn has_addon(&self, cluster: &ClusterArn, addon: &str) -> Result<bool>;
    /// Associations in `namespace` on `cluster`, with their role (List + Describe).
    async fn pod_identity_associations(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
    ) -> Result<Vec<PodIdentityAssociation>>;
    async fn create_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        service_account: &SaRef,
        role_arn: &str,
    ) -> Result<()>;
    async fn update_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        association_id: &str,
        role_arn: &str,
    ) -> Result<()>;
}

/// Questions for the user; the non-interactive implementation answers none.
pub trait Prompt {
    /// Ask to go ahead with `question`; Err(Usage) when nobody can answer.
    fn confirm(&self, question: &str) -> Result<bool>;
}
