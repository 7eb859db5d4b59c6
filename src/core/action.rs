//! The vocabulary of `add`'s plans: one Action is a Step (a write with everything the writer
//! needs) and whether it creates, updates or leaves its object unchanged.

use std::fmt;

use serde::Serialize;

use super::model::{AccessScope, ClusterArn, IRSA_ANNOTATION, RoleArn, SaRef};
use super::secret::DesiredSecret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Change {
    Create,
    Update,
    Unchanged,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
        })
    }
}

/// One write the plan may make, with everything the writer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Step {
    /// Server-side apply of the cluster Secret (forced: the plan already checked whose it is).
    ApplySecret { secret: DesiredSecret },
    /// Server-side apply of the IRSA annotation on one service account.
    AnnotateServiceAccount {
        service_account: SaRef,
        role_arn: RoleArn,
        /// The annotation's value when the plan was made (None: there was none); written only
        /// while it still is, so a change by someone else meanwhile is never written over.
        #[serde(skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
        /// The service account's resourceVersion when the plan was read (the write's
        /// compare-and-swap); not part of what the plan shows.
        #[serde(skip)]
        resource_version: Option<String>,
    },
    CreatePodIdentityAssociation {
        hub_cluster: ClusterArn,
        service_account: SaRef,
        role_arn: RoleArn,
        /// Native chaining: EKS assumes this role for the pods with `role_arn`'s session.
        #[serde(skip_serializing_if = "Option::is_none")]
        target_role_arn: Option<RoleArn>,
    },
    UpdatePodIdentityAssociation {
        hub_cluster: ClusterArn,
        association_id: String,
        service_account: SaRef,
        role_arn: RoleArn,
        #[serde(skip_serializing_if = "Option::is_none")]
        target_role_arn: Option<RoleArn>,
    },
    /// An EKS access entry for the role that reaches the target.
    CreateAccessEntry {
        cluster: ClusterArn,
        principal_arn: RoleArn,
    },
    /// Associate (or re-scope) an access policy with that entry.
    AssociateAccessPolicy {
        cluster: ClusterArn,
        principal_arn: RoleArn,
        policy_arn: String,
        scope: AccessScope,
    },
}

impl Step {
    /// A one-line name of the object the step writes.
    pub(crate) fn subject(&self) -> String {
        match self {
            Step::ApplySecret { secret } => {
                format!("Secret {}/{}", secret.namespace, secret.name)
            }
            Step::AnnotateServiceAccount {
                service_account, ..
            } => {
                format!("ServiceAccount {service_account} annotation {IRSA_ANNOTATION}")
            }
            Step::CreatePodIdentityAssociation {
                hub_cluster,
                service_account,
                ..
            }
            | Step::UpdatePodIdentityAssociation {
                hub_cluster,
                service_account,
                ..
            } => format!(
                "PodIdentityAssociation {service_account} on EKS cluster {}",
                hub_cluster.name
            ),
            Step::CreateAccessEntry {
                cluster,
                principal_arn,
            } => format!(
                "AccessEntry {principal_arn} on EKS cluster {}",
                cluster.name
            ),
            Step::AssociateAccessPolicy {
                cluster,
                policy_arn,
                ..
            } => format!(
                "AccessPolicy {} on EKS cluster {}",
                policy_arn.rsplit('/').next().unwrap_or(policy_arn),
                cluster.name
            ),
        }
    }

    /// Whether this is a write to the hub (Kubernetes), not to AWS.
    pub(crate) fn is_hub_write(&self) -> bool {
        matches!(
            self,
            Step::ApplySecret { .. } | Step::AnnotateServiceAccount { .. }
        )
    }

    /// Whether Argo CD's pods must restart to see this change.
    pub(crate) fn changes_identity(&self) -> bool {
        matches!(
            self,
            Step::AnnotateServiceAccount { .. }
                | Step::CreatePodIdentityAssociation { .. }
                | Step::UpdatePodIdentityAssociation { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Action {
    pub(crate) change: Change,
    pub(crate) step: Step,
    /// What differs, for updates; why, for unchanged or created objects.
    pub(crate) detail: String,
}
