//! The reads of `add`'s check before writing: the management role (one GetRole; its policies
//! only when it assumes itself or native chaining's target), the hub's issuer and IAM OIDC
//! providers (IRSA) or the pod identity agent, and each target role its account reaches. A read that fails
//! leaves its fact unknown: the check then says "cannot tell", which never stops `add`.

use crate::commands::Ports;
use crate::commands::doctor::role_facts;
use crate::commands::targets::pod_identity_agent;
use crate::core::checks::{PreflightFacts, RoleFacts, target_roles};
use crate::core::model::{ClusterArn, IdentityMode, RoleArn};
use crate::core::plan::{HubIdentity, Registration};
use crate::core::pod_identity::PodIdentityAgent;
use crate::core::policy::document::parse_policy;
use crate::ports::{EksRead, HubRead, IamRead};

/// What the check needs to know about the hub before it is read.
pub(super) struct HubClues {
    /// The hub's EKS cluster, when known (for IRSA, its OIDC issuer is read from it).
    pub(super) cluster: Option<ClusterArn>,
    /// The pod identity agent as `--identity auto` saw it (None: not looked for).
    pub(super) agent: Option<PodIdentityAgent>,
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
pub(super) async fn read_facts<H: HubRead, A: EksRead + IamRead, P>(
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
        // Its permission policies matter only when it assumes itself (roleARN is the
        // management role) or EKS assumes the target role with it (native chaining).
        facts.management_role = if targets.contains(management) || identity.native_target.is_some()
        {
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
                (Some(seen), _) => Some(seen),
                (None, Some(arn)) => pod_identity_agent(ports.hub, own, arn, None).await,
                (None, None) => None,
            };
            if let Some(target) = &identity.native_target
                && let Some(iam) = ports.accounts.reaching(&target.account, caller)
            {
                facts.native_target_role = role_trust(iam, target).await;
            }
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
