//! `add`'s check before writing: doctor's identity checks (link 2, and the target role's trust
//! of link 3) run on the hub as the plan will leave it, so a registration that cannot work is
//! seen before anything is written.

use std::collections::BTreeSet;

use super::chain::trust_of_target;
use super::identity::{irsa_checks, pod_identity_checks};
use super::{Finding, HubFacts, RoleFacts};
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, EksCluster, IdentityMode, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::core::plan::{HubIdentity, Observed, Registration};
use crate::core::pod_identity::PodIdentityAgent;

/// What `add` read for the check, beyond what the plan read. `None`: could not be read.
#[derive(Debug, Clone, Default)]
pub(crate) struct PreflightFacts {
    /// The hub's EKS cluster as described (its OIDC issuer, for IRSA).
    pub(crate) hub_cluster: Option<EksCluster>,
    pub(crate) pod_identity_agent: Option<PodIdentityAgent>,
    /// The OIDC providers in the management role's account (IRSA).
    pub(crate) oidc_providers: Option<Vec<String>>,
    pub(crate) management_role: Option<RoleFacts>,
    /// Native chaining's target role (the associations' targetRoleArn), as read.
    pub(crate) native_target_role: Option<RoleFacts>,
    /// Each target role as read in its account; a role left out could not be read.
    pub(crate) target_roles: Vec<RoleFacts>,
}

/// The hub as doctor will see it once the plan is applied: every Argo CD service account with
/// the management role (annotation or association), and what was read about the roles.
fn planned_hub(
    identity: &HubIdentity,
    registrations: &[Registration],
    observed: &Observed,
    facts: &PreflightFacts,
) -> HubFacts {
    let role = identity.management_role.to_string();
    let irsa = identity.mode == IdentityMode::Irsa;
    let service_accounts = observed
        .service_accounts
        .iter()
        .cloned()
        .map(|mut sa| {
            // Pod identity's checks look at associations; an IRSA annotation left on a service
            // account is the plan's note, not this check's.
            sa.irsa_role = irsa.then(|| role.clone());
            sa
        })
        .collect::<Vec<_>>();
    let associations = if identity.mode == IdentityMode::PodIdentity {
        ARGOCD_SERVICE_ACCOUNTS
            .iter()
            .filter(|(name, _)| service_accounts.iter().any(|sa| sa.name == *name))
            .map(|(name, _)| PodIdentityAssociation {
                id: "(planned)".into(),
                service_account: SaRef::new(&identity.namespace, name),
                role_arn: role.clone(),
                managed_by_us: true,
                changed_at: None,
                target_role_arn: identity.native_target.as_ref().map(ToString::to_string),
                disable_session_tags: false,
                external_id: None,
            })
            .collect()
    } else {
        Vec::new()
    };
    HubFacts {
        namespace: identity.namespace.clone(),
        service_accounts,
        hub_cluster: facts.hub_cluster.clone().or_else(|| {
            // Pod identity's checks need only the cluster's ARN, which the plan has.
            identity.hub_cluster.clone().map(|arn| EksCluster {
                arn,
                endpoint: String::new(),
                ca_data: String::new(),
                status: String::new(),
                version: None,
                oidc_issuer: None,
                authentication_mode: None,
                auto_mode: false,
                tags: std::collections::BTreeMap::new(),
            })
        }),
        pod_identity_agent: facts.pod_identity_agent,
        associations,
        oidc_providers: facts.oidc_providers.clone(),
        management_role: facts.management_role.clone(),
        native_target_role: facts.native_target_role.clone(),
        target_roles: target_roles(registrations),
        ..HubFacts::default()
    }
}

/// The distinct target roles of the registrations, in order.
pub(crate) fn target_roles(registrations: &[Registration]) -> Vec<RoleArn> {
    let mut seen = BTreeSet::new();
    registrations
        .iter()
        .filter_map(|r| r.target_role.clone())
        .filter(|role| seen.insert(role.clone()))
        .collect()
}

/// Doctor's checks of the identity the plan sets up: for IRSA the OIDC provider and the
/// management role's trust of each service account's web identity (with the audience), for
/// pod identity the agent and the trust of pods.eks.amazonaws.com (AssumeRole + TagSession)
/// with native chaining's hop to the associations' target role, and for each roleARN its trust
/// of the management role. Every finding, passes too; a
/// failure has the fix doctor prints. Pure: the command read `facts`.
pub(crate) fn preflight_checks(
    identity: &HubIdentity,
    registrations: &[Registration],
    observed: &Observed,
    facts: &PreflightFacts,
) -> Vec<Finding> {
    let hub = planned_hub(identity, registrations, observed, facts);
    let role = identity.management_role.to_string();
    let mut findings = match identity.mode {
        IdentityMode::Irsa => irsa_checks(&hub, &role),
        IdentityMode::PodIdentity => pod_identity_checks(&hub, &role),
        // EKS runs the capability's Argo CD: there is no identity of ours to check.
        IdentityMode::Capability => return Vec::new(),
    };
    for target in &hub.target_roles {
        let read = facts.target_roles.iter().find(|r| r.arn == *target);
        let mut finding =
            trust_of_target(&hub, read, target, &identity.management_role, identity.mode);
        if hub.target_roles.len() > 1 {
            finding.check = format!("{} ({})", finding.check, target.name());
        }
        findings.push(finding);
    }
    findings
}
