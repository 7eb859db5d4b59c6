//! doctor's checks: observed hub, IAM and EKS facts -> findings, each failure with its exact fix.
//! This file holds the facts and findings; one file per link of the chain does the checking.

mod access;
mod chain;
mod fixes;
mod hub;
mod identity;
mod preflight;
mod target;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_access;
#[cfg(test)]
mod tests_policy;

pub(crate) use hub::hub_checks;
pub(crate) use identity::identity_checks;
pub(crate) use preflight::{PreflightFacts, preflight_checks, target_roles};
pub(crate) use target::target_checks;

use serde::Serialize;

use crate::core::model::{
    AccessEntry, ClusterArn, EksCluster, GroupBinding, IdentityMode, Lookup,
    ObservedServiceAccount, PodFacts, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::core::pod_identity::PodIdentityAgent;
use crate::core::policy::document::PolicyDocument;
use crate::core::policy::generate::NamedPolicy;
use crate::core::secret::ObservedSecret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    Pass,
    Fail,
    /// The tool could not read what the check needs.
    CannotTell,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    pub(crate) check: String,
    pub(crate) status: Status,
    pub(crate) detail: String,
    /// For failures: the command to run or the policy to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

impl Finding {
    pub(super) fn pass(check: &str, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(super) fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub(super) fn cannot_tell(check: &str, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::CannotTell,
            detail: detail.into(),
            fix: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Section {
    pub(crate) title: String,
    pub(crate) findings: Vec<Finding>,
}

impl Section {
    #[cfg(test)]
    pub(crate) fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.status == Status::Fail)
    }
}

/// An IAM role as doctor read it: None trust means the role does not exist.
#[derive(Debug, Clone)]
pub(crate) struct RoleFacts {
    pub(crate) arn: RoleArn,
    pub(crate) trust: Option<PolicyDocument>,
    /// Its inline (by name) and attached managed (by ARN) policies.
    pub(crate) permissions: Vec<NamedPolicy>,
}

impl RoleFacts {
    pub(super) fn documents(&self) -> Vec<&PolicyDocument> {
        self.permissions.iter().map(|p| &p.document).collect()
    }
}

/// Everything doctor read about the hub; `None` in an Option<..> field means "could not read".
#[derive(Debug, Clone, Default)]
pub(crate) struct HubFacts {
    pub(crate) namespace: String,
    pub(crate) service_accounts: Vec<ObservedServiceAccount>,
    pub(crate) may_create_secrets: Option<bool>,
    pub(crate) hub_cluster: Option<EksCluster>,
    /// None: cannot tell.
    pub(crate) pod_identity_agent: Option<PodIdentityAgent>,
    pub(crate) associations: Vec<PodIdentityAssociation>,
    /// Why the pod identity associations could not be read (then `associations` is empty).
    pub(crate) associations_unread: Option<String>,
    pub(crate) oidc_providers: Option<Vec<String>>,
    pub(crate) management_role: Option<RoleFacts>,
    /// The association's target role (pod identity's native chaining), when it has one.
    pub(crate) native_target_role: Option<RoleFacts>,
    pub(crate) pods: Vec<PodFacts>,
    /// When Argo CD's identity last changed (Unix seconds), if known.
    pub(crate) identity_changed_at: Option<i64>,
    /// Argo CD is the EKS Argo CD capability (every checked Secret names its cluster by ARN).
    pub(crate) capability: bool,
    /// The capability's role, when the user named it.
    pub(crate) capability_role: Option<RoleArn>,
    /// The roleARNs of the Secrets doctor checks: the fixes it prints are for all of them.
    pub(crate) target_roles: Vec<RoleArn>,
}

/// Everything doctor read about one registered cluster.
#[derive(Debug, Clone)]
pub(crate) struct TargetFacts {
    pub(crate) secret: ObservedSecret,
    /// The cluster the Secret names (its `name` ARN, or the cluster found at its server).
    pub(crate) cluster_arn: Option<ClusterArn>,
    /// DescribeCluster.
    pub(crate) described: Lookup<EksCluster>,
    /// The target role (roleARN), read in the target's account when reachable.
    pub(crate) target_role: Option<RoleFacts>,
    /// The access entry of the principal that must reach the cluster: its policies and groups.
    pub(crate) access_entry: Lookup<AccessEntry>,
    /// Connecting as Argo CD would; None when not attempted.
    pub(crate) connection: Option<Connection>,
    /// kube-system/aws-auth `mapRoles` on the target: unknown when there is no kube context
    /// for it here; absent when there is no aws-auth ConfigMap (or no mapRoles).
    pub(crate) aws_auth: Lookup<String>,
    /// The target's RBAC bindings of groups, read when the role's groups need them: None =
    /// not read (no kube context for it here, or not allowed).
    pub(crate) group_bindings: Option<Vec<GroupBinding>>,
}

/// What happened when doctor connected to the target the way Argo CD does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Connection {
    Authenticated {
        username: String,
        groups: Vec<String>,
    },
    /// The cluster answered 401 to the token.
    Rejected,
    /// The roles could not be assumed from here (the caller is not Argo CD).
    CannotAssume(String),
    Unreachable(String),
    /// The endpoint answered with a TLS certificate the Secret's CA does not verify (as Argo
    /// CD verifies it): Argo CD cannot connect either.
    UntrustedCertificate(String),
}

/// The identity Argo CD's application controller has. AWS SDKs look for IRSA's web identity
/// before pod identity's container credentials, so an IRSA annotation wins when both exist.
pub(crate) fn detect_identity(hub: &HubFacts) -> Option<(IdentityMode, String)> {
    let controller = crate::core::model::ARGOCD_SERVICE_ACCOUNTS[0].0;
    let annotation = hub
        .service_accounts
        .iter()
        .find(|sa| sa.name == controller)
        .and_then(|sa| sa.irsa_role.clone());
    if let Some(role) = annotation {
        return Some((IdentityMode::Irsa, role));
    }
    hub.associations
        .iter()
        .find(|a| a.service_account.name == controller)
        .map(|association| (IdentityMode::PodIdentity, association.role_arn.clone()))
}

/// The application controller's pod identity association, when pod identity is its identity.
pub(crate) fn controller_association(hub: &HubFacts) -> Option<&PodIdentityAssociation> {
    let controller = crate::core::model::ARGOCD_SERVICE_ACCOUNTS[0].0;
    match detect_identity(hub) {
        Some((IdentityMode::PodIdentity, _)) => hub
            .associations
            .iter()
            .find(|a| a.service_account.name == controller),
        _ => None,
    }
}

/// The association's target role: EKS assumes it for the pods (native chaining).
pub(crate) fn native_target(hub: &HubFacts) -> Option<&str> {
    controller_association(hub).and_then(|a| a.target_role_arn.as_deref())
}

/// The role Argo CD's pods really end up with: native chaining's target, else the
/// management role.
pub(crate) fn pods_role(hub: &HubFacts) -> Option<String> {
    match controller_association(hub) {
        Some(association) => Some(association.effective_role().to_owned()),
        None => detect_identity(hub).map(|(_, role)| role),
    }
}

/// Whether pod identity passes session tags (then every role in the chain needs
/// sts:TagSession); IRSA passes none.
pub(crate) fn session_tags(hub: &HubFacts) -> bool {
    controller_association(hub).is_some_and(|a| !a.disable_session_tags)
}

pub(super) fn argocd_service_accounts(hub: &HubFacts) -> Vec<SaRef> {
    crate::core::model::ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, _)| hub.service_accounts.iter().any(|sa| sa.name == *name))
        .map(|(name, _)| SaRef::new(&hub.namespace, name))
        .collect()
}

pub(super) fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
