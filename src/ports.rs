//! The outside world as small traits: the hub cluster (reads apart from writes), other clusters,
//! EKS and IAM (reads apart from writes), EKS token minting, and the user's answers. Each
//! command asks only for the traits it uses; `testing.rs` has in-memory fakes of them all.

// The traits are implemented and awaited inside this crate on one runtime thread, so their
// futures need no `Send` bound.
#![allow(async_fn_in_trait)]

use std::collections::BTreeMap;

use crate::core::model::{
    AccessEntry, AccessScope, ClusterArn, EksCluster, GroupBinding, ObservedServiceAccount,
    PodFacts, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::core::rbac::RulesReview;
use crate::core::secret::{DesiredSecret, ObservedSecret};
use crate::error::Result;

/// What the kube context says about the hub, for finding its own EKS cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HubContext {
    pub(crate) context: String,
    pub(crate) cluster: String,
    pub(crate) server: String,
    /// Arguments of the user's `exec` credential plugin, if any (e.g. `aws eks get-token ...`).
    pub(crate) exec_args: Vec<String>,
}

impl HubContext {
    /// The hub's EKS cluster when the context or its cluster is named by its ARN (as
    /// `aws eks update-kubeconfig` names them).
    pub(crate) fn cluster_arn(&self) -> Option<ClusterArn> {
        ClusterArn::parse(&self.context)
            .or_else(|_| ClusterArn::parse(&self.cluster))
            .ok()
    }
}

/// A write on the hub is either real or a server-side dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Real,
    ServerDryRun,
}

/// The kind of a workload to restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    StatefulSet,
    Deployment,
}

impl WorkloadKind {
    /// The API resource: `statefulsets`, `deployments`.
    pub(crate) fn resource(self) -> &'static str {
        match self {
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::Deployment => "deployments",
        }
    }
}

/// A workload to restart, by kind and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Workload {
    pub(crate) kind: WorkloadKind,
    pub(crate) name: &'static str,
}

/// Reads of the cluster where Argo CD runs.
pub(crate) trait HubRead {
    fn context(&self) -> &HubContext;
    /// Every Argo CD cluster Secret in `namespace`.
    async fn cluster_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>>;
    /// This tool's Secrets in `namespace` that lost the `argocd.argoproj.io/secret-type` label
    /// (what `argocd cluster rm` does to a Secret Argo CD did not make).
    async fn unregistered_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>>;
    /// Every Argo CD cluster Secret in every namespace the caller may list them in.
    async fn cluster_secrets_in_all_namespaces(&self) -> Result<Vec<ObservedSecret>>;
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<ObservedSecret>>;
    async fn service_accounts(&self, namespace: &str) -> Result<Vec<ObservedServiceAccount>>;
    /// Per service account in `namespace`, the annotation keys this tool's field manager owns
    /// (server-side apply entries in managedFields).
    async fn owned_service_account_annotations(
        &self,
        namespace: &str,
    ) -> Result<BTreeMap<String, Vec<String>>>;
    /// Pods in `namespace` with their service account and creation time.
    async fn pods(&self, namespace: &str) -> Result<Vec<PodFacts>>;
    /// Namespaces holding a service account called `name` (to find where Argo CD runs).
    async fn namespaces_with_service_account(&self, name: &str) -> Result<Vec<String>>;
    /// SelfSubjectAccessReview: may the caller `verb` `resource` (of API `group`) in `namespace`?
    /// Whether DaemonSet `namespace/name` exists on the hub.
    async fn daemon_set_exists(&self, namespace: &str, name: &str) -> Result<bool>;
    /// Of `workloads`, those that exist, each with when its pods were last rolled (the pod
    /// template's `kubectl.kubernetes.io/restartedAt`, else when it was created), in seconds.
    async fn workloads_restarted_at(
        &self,
        namespace: &str,
        workloads: &[Workload],
    ) -> Result<Vec<(String, i64)>>;
    async fn can_i(&self, namespace: &str, verb: &str, group: &str, resource: &str)
    -> Result<bool>;
    /// SelfSubjectRulesReview: what the caller may do in `namespace`, in one request.
    async fn rules_review(&self, namespace: &str) -> Result<RulesReview>;
}

/// One annotation to set: its key, the value wanted, and the value the plan read (None: absent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Annotation<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: &'a str,
    pub(crate) expected: Option<&'a str>,
}

/// Writes to the cluster where Argo CD runs, all server-side apply or delete.
pub(crate) trait HubWrite {
    /// Server-side apply of the Secret; the answer is the Secret as the server now has it
    /// (the read-back: no list after the writes).
    async fn apply_secret(&self, secret: &DesiredSecret, write: Write) -> Result<ObservedSecret>;
    /// Delete a Secret; false when it was already gone.
    async fn delete_secret(&self, namespace: &str, name: &str, write: Write) -> Result<bool>;
    /// Take the `argocd.argoproj.io/secret-type` label off a Secret (Argo CD stops using it, as
    /// after `argocd cluster rm`); false when the Secret was already gone.
    async fn unregister_secret(&self, namespace: &str, name: &str, write: Write) -> Result<bool>;
    /// Set annotation `key` to `value` (server-side apply, this tool's field manager) only while
    /// it still has the value `expected` (None: absent) this run read: otherwise a Conflict.
    /// `resource_version` (as the plan read it) makes the write a compare-and-swap with no read
    /// before it; when the object changed since, it is read once and written only if the
    /// annotation is still `expected`. The answer is the service account as the server now
    /// has it.
    async fn annotate_service_account(
        &self,
        service_account: &SaRef,
        annotation: Annotation<'_>,
        resource_version: Option<&str>,
        write: Write,
    ) -> Result<ObservedServiceAccount>;
    /// Server-side apply of the service account without annotation `key` under this tool's
    /// field manager: the annotation goes only when no other manager also owns it.
    async fn remove_service_account_annotation(
        &self,
        service_account: &SaRef,
        key: &str,
        write: Write,
    ) -> Result<()>;
    /// `kubectl rollout restart` of Argo CD's workloads that exist; returns what was restarted.
    async fn restart_workloads(
        &self,
        namespace: &str,
        workloads: &[Workload],
        write: Write,
    ) -> Result<Vec<String>>;
}

/// What a target cluster says about a bearer token (SelfSubjectReview).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenReview {
    Authenticated {
        username: String,
        groups: Vec<String>,
    },
    /// 401: the cluster does not accept the token (no access entry / aws-auth mapping).
    Rejected,
}

/// kube-system/aws-auth on a target cluster, as read through a kubeconfig context for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AwsAuth {
    /// The kubeconfig has no context for that cluster's server, so it was not read.
    NoContext,
    /// There is no aws-auth ConfigMap, or it has no `mapRoles`.
    Missing,
    /// Its `mapRoles` text.
    MapRoles(String),
}

/// Other clusters, reached with a bearer token and a CA, as Argo CD reaches its targets.
pub(crate) trait Targets {
    /// The aws-auth `mapRoles` of the cluster at `server`.
    async fn aws_auth(&self, server: &str) -> Result<AwsAuth>;
    /// The RoleBindings and ClusterRoleBindings that bind groups on the cluster at `server`,
    /// read through a kubeconfig context for it: None when the kubeconfig has no context for it.
    async fn group_bindings(&self, server: &str) -> Result<Option<Vec<GroupBinding>>>;
    /// Ask the cluster at `server` (verified against `ca_data`, base64 PEM) who `token` is.
    async fn review_token(&self, server: &str, ca_data: &str, token: &str) -> Result<TokenReview>;
}

/// Reads of Amazon EKS, in any region of the credentials' account.
pub(crate) trait EksRead {
    /// Every cluster name in `region` (all pages).
    async fn list_clusters(&self, region: &str) -> Result<Vec<String>>;
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
    /// The principal's access entry on `cluster`: None when there is none, else its policies.
    async fn access_entry(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<AccessEntry>>;
    /// The tags of the principal's access entry on `cluster`; None when there is no entry.
    async fn access_entry_tags(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<BTreeMap<String, String>>>;
}

/// Writes to Amazon EKS.
pub(crate) trait EksWrite {
    async fn create_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        service_account: &SaRef,
        role: &RoleArn,
        target_role: Option<&RoleArn>,
    ) -> Result<()>;
    /// Set the association's role and target role (None: no native chaining).
    async fn update_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        association_id: &str,
        role: &RoleArn,
        target_role: Option<&RoleArn>,
    ) -> Result<()>;
    /// DeletePodIdentityAssociation; an association already gone is not an error (false).
    async fn delete_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        association_id: &str,
    ) -> Result<bool>;
    async fn create_access_entry(&self, cluster: &ClusterArn, principal: &RoleArn) -> Result<()>;
    async fn associate_access_policy(
        &self,
        cluster: &ClusterArn,
        principal: &RoleArn,
        policy_arn: &str,
        scope: &AccessScope,
    ) -> Result<()>;
    /// DeleteAccessEntry (its access policies go with it); an entry already gone is not an
    /// error (false).
    async fn delete_access_entry(&self, cluster: &ClusterArn, principal_arn: &str) -> Result<bool>;
}

/// Who the credentials are (sts:GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallerIdentity {
    pub(crate) account: String,
    pub(crate) arn: String,
}

impl CallerIdentity {
    /// The partition of the caller's ARN (`aws`, `aws-cn`, ...).
    pub(crate) fn partition(&self) -> &str {
        self.arn.split(':').nth(1).unwrap_or("aws")
    }
}

/// An IAM role as GetRole returns it; the trust policy text may be URL-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IamRole {
    pub(crate) arn: String,
    pub(crate) trust_policy: String,
}

/// A policy document attached to a role: inline (by name) or managed (by ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RolePolicy {
    pub(crate) name: String,
    pub(crate) document: String,
}

/// Reads of AWS IAM and STS in the caller's account.
pub(crate) trait IamRead {
    async fn caller(&self) -> Result<CallerIdentity>;
    /// GetRole by name; None when there is no such role.
    async fn role(&self, name: &str) -> Result<Option<IamRole>>;
    /// Every role of the account with its trust policy (ListRoles, all pages).
    async fn list_roles(&self) -> Result<Vec<IamRole>>;
    /// Inline and attached managed policies of a role, with their current documents.
    async fn role_policies(&self, name: &str) -> Result<Vec<RolePolicy>>;
    /// ARNs of the account's IAM OIDC providers.
    async fn oidc_providers(&self) -> Result<Vec<String>>;
}

/// Writes to AWS IAM.
pub(crate) trait IamWrite {
    async fn create_role(&self, name: &str, trust_policy: &str, description: &str) -> Result<()>;
    async fn update_trust_policy(&self, name: &str, trust_policy: &str) -> Result<()>;
    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<()>;
    /// Create the IAM OIDC provider for an issuer URL with audience `sts.amazonaws.com`.
    async fn create_oidc_provider(&self, issuer_url: &str) -> Result<String>;
}

/// EKS bearer tokens, made as `argocd-k8s-auth aws` makes them.
pub(crate) trait TokenMinter {
    /// A token for `cluster_name`, after assuming each role of `chain` in turn.
    async fn eks_token(
        &self,
        chain: &[RoleArn],
        cluster_name: &str,
        region: &str,
    ) -> Result<String>;
}

/// A question's answer, or Esc: go back to the question before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply<T> {
    Answer(T),
    Back,
}

/// The rows of a multi-select: each row as shown (fitted to the terminal), the header over them,
/// and per row the text that typing filters on (it may hold more than is shown, e.g. tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PickList {
    pub(crate) header: String,
    pub(crate) rows: Vec<String>,
    pub(crate) search: Vec<String>,
    /// The rows picked when it opens (an earlier answer, after Esc came back to it).
    pub(crate) picked: Vec<usize>,
}

/// Questions for the user; the non-interactive implementation answers none and names `flag`.
pub(crate) trait Prompt {
    /// Ask to go ahead with `question`; Err(Usage) when nobody can answer.
    fn confirm(&self, question: &str) -> Result<bool>;
    /// Pick any number of rows of `list` (typing filters them).
    fn pick_many(&self, question: &str, flag: &str, list: &PickList) -> Result<Reply<Vec<usize>>>;
    /// Pick one of `items` (typing filters them).
    fn pick_one(
        &self,
        question: &str,
        flag: &str,
        items: &[String],
        default: usize,
    ) -> Result<Reply<usize>>;
    /// A line of text; `validate` returns the reason an answer is refused (it is asked again,
    /// the text kept for editing).
    fn text(
        &self,
        question: &str,
        flag: &str,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<Reply<String>>;
    /// Writes begin: from now on Ctrl-C asks the command to stop after the write in flight
    /// (then `interrupted` is true) instead of ending the run.
    fn writes_begin(&self) {}
    /// Whether the user pressed Ctrl-C since the writes began.
    fn interrupted(&self) -> bool {
        false
    }
}
