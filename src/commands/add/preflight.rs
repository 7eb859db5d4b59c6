//! The reads of `add`'s check before writing: the management role (one GetRole; its policies
//! only when it assumes itself or native chaining's target), the hub's issuer and IAM OIDC
//! providers (IRSA) or the pod identity agent, and each target role its account reaches. A read that fails
//! leaves its fact unknown: the check then says "cannot tell", which never stops `add`.

use futures::future::join_all;

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

/// What the check reads with the caller's and the assumed accounts' IAM, and the pod
/// identity agent: GetCallerIdentity first (it says which credentials may read which role),
/// then every read at once.
async fn iam_facts<H: HubRead, A: EksRead + IamRead, P>(
    ports: &Ports<'_, H, A, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
    hub: &HubClues,
) -> PreflightFacts {
    let own = ports.accounts.own();
    let management = &identity.management_role;
    let targets = target_roles(registrations);
    // Its permission policies matter only when it assumes itself (roleARN is the management
    // role) or EKS assumes the target role with it (native chaining).
    let full = targets.contains(management) || identity.native_target.is_some();
    let irsa = identity.mode == IdentityMode::Irsa;
    // Only credentials that really are the role's account may read it: another account's
    // GetRole would say "no such role" about a role that exists. The caller's own
    // credentials usually are (no --assume-role reaches it): their reads go out beside
    // GetCallerIdentity and count only if it says so.
    let guess_own = !ports.accounts.is_assumed(&management.account);
    let pod_identity_agent = async {
        match (identity.mode, hub.agent, &hub.cluster) {
            (IdentityMode::PodIdentity, Some(seen), _) => Some(seen),
            (IdentityMode::PodIdentity, None, Some(arn)) => {
                pod_identity_agent(ports.hub, own, arn, None).await
            }
            _ => None,
        }
    };
    let (caller, guessed, pod_identity_agent) = futures::join!(
        own.caller(),
        async {
            if guess_own {
                Some(management_reads(own, management, full, irsa).await)
            } else {
                None
            }
        },
        pod_identity_agent
    );
    let caller = caller.ok().map(|c| c.account);
    let caller = caller.as_deref();
    let management_reads = async {
        match ports.accounts.reaching(&management.account, caller) {
            Some(iam) if std::ptr::eq(iam, own) && guessed.is_some() => guessed.unwrap_or_default(),
            Some(iam) => management_reads(iam, management, full, irsa).await,
            None => (None, None),
        }
    };
    let native_target_role = async {
        let target = identity.native_target.as_ref()?;
        if identity.mode != IdentityMode::PodIdentity {
            return None;
        }
        role_trust(ports.accounts.reaching(&target.account, caller)?, target).await
    };
    let target_roles = join_all(
        targets
            .iter()
            .filter(|t| *t != management)
            .map(|target| async {
                role_trust(ports.accounts.reaching(&target.account, caller)?, target).await
            }),
    );
    let ((management_role, oidc_providers), native_target_role, target_roles) =
        futures::join!(management_reads, native_target_role, target_roles);
    PreflightFacts {
        management_role,
        oidc_providers,
        pod_identity_agent,
        native_target_role,
        target_roles: target_roles.into_iter().flatten().collect(),
        ..PreflightFacts::default()
    }
}

/// The management role (its trust; its policies too when `full`) and, for IRSA, the
/// account's IAM OIDC providers, read together with `iam`.
async fn management_reads<I: IamRead>(
    iam: &I,
    management: &RoleArn,
    full: bool,
    irsa: bool,
) -> (Option<RoleFacts>, Option<Vec<String>>) {
    let role = async {
        if full {
            role_facts(iam, management).await
        } else {
            role_trust(iam, management).await
        }
    };
    let providers = async {
        if irsa {
            iam.oidc_providers().await.ok()
        } else {
            None
        }
    };
    futures::join!(role, providers)
}

/// Read the facts of the check; reads only, and none of them fails `add`.
pub(super) async fn read_facts<H: HubRead, A: EksRead + IamRead, P>(
    ports: &Ports<'_, H, A, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
    hub: HubClues,
) -> PreflightFacts {
    if identity.mode == IdentityMode::Capability {
        return PreflightFacts::default();
    }
    let own = ports.accounts.own();
    // The hub's cluster (IRSA: its issuer) does not depend on who the caller is: it is read
    // while GetCallerIdentity and the IAM reads after it are in flight.
    let hub_cluster = async {
        match (identity.mode, &hub.cluster) {
            (IdentityMode::Irsa, Some(arn)) => own
                .describe_cluster(&arn.region, &arn.name)
                .await
                .ok()
                .flatten(),
            _ => None,
        }
    };
    let (iam_facts, hub_cluster) =
        futures::join!(iam_facts(ports, identity, registrations, &hub), hub_cluster);
    PreflightFacts {
        hub_cluster,
        ..iam_facts
    }
}
