//! The reads of `add`'s check before writing: the management role (one GetRole; its policies
//! only when it is also a target role), the hub's issuer and IAM OIDC providers (IRSA) or the
//! pod identity agent, and each target role its account's credentials reach. A read that fails
//! leaves its fact unknown: the check then says "cannot tell", which never stops `add`.

use crate::commands::Ports;
use crate::commands::doctor::role_facts;
use crate::core::checks::{PreflightFacts, RoleFacts, target_roles};
use crate::core::model::{ClusterArn, IdentityMode, POD_IDENTITY_AGENT_ADDON, RoleArn};
use crate::core::plan::{HubIdentity, Registration};
use crate::core::policy::document::parse_policy;
use crate::ports::{EksRead, IamRead};

/// What the check needs to know about the hub before it is read.
pub(super) struct HubClues {
    /// The hub's EKS cluster, when known (for IRSA, its OIDC issuer is read from it).
    pub(super) cluster: Option<ClusterArn>,
    /// Whether the agent is known to run (auto mode picked pod identity because it does).
    pub(super) agent: Option<bool>,
}

/// A role's trust policy only (one GetRole): None when it cannot be read or parsed.
async fn role_trust<I: IamRead>(iam: &I, arn: &RoleArn) -> Option<RoleFacts> {
    let trust = match iam.role(arn.name()).await.ok()? {
        Some(role) => Some(parse_policy(&role.trust_policy).ok()?),
        None => None,
    };
    Some(RoleFacts {
        arn: arn.clone(),
        trust,
        permissions: Vec::new(),
    })
}

/// Read the facts of the check; reads only, and none of them fails `add`.
pub(super) async fn read_facts<H, A: EksRead + IamRead, P>(
    ports: &Ports<'_, H, A, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
    hub: HubClues,
) -> PreflightFacts {
    let mut facts = PreflightFacts::default();
    if identity.mode == IdentityMode::Capability {
        return facts;
    }
    let own = ports.accounts.own();
    // Only credentials that really are the role's account may read it: another account's
    // GetRole would say "no such role" about a role that exists.
    let caller = own.caller().await.ok().map(|c| c.account);
    let caller = caller.as_deref();
    let management = &identity.management_role;
    let targets = target_roles(registrations);
    if let Some(iam) = ports.accounts.reaching(&management.account, caller) {
        // Its permission policies matter only when roleARN is the management role itself.
        facts.management_role = if targets.contains(management) {
            role_facts(iam, management).await
        } else {
            role_trust(iam, management).await
        };
        if identity.mode == IdentityMode::Irsa {
            facts.oidc_providers = iam.oidc_providers().await.ok();
        }
    }
    match identity.mode {
        IdentityMode::Irsa => {
            if let Some(arn) = &hub.cluster {
                facts.hub_cluster = own
                    .describe_cluster(&arn.region, &arn.name)
                    .await
                    .ok()
                    .flatten();
            }
        }
        IdentityMode::PodIdentity => {
            facts.pod_identity_agent = match (hub.agent, &hub.cluster) {
                (Some(known), _) => Some(known),
                (None, Some(arn)) => own.has_addon(arn, POD_IDENTITY_AGENT_ADDON).await.ok(),
                (None, None) => None,
            };
        }
        IdentityMode::Capability => {}
    }
    for target in targets.iter().filter(|t| *t != management) {
        if let Some(iam) = ports.accounts.reaching(&target.account, caller)
            && let Some(read) = role_trust(iam, target).await
        {
            facts.target_roles.push(read);
        }
    }
    facts
}
