//! The reads of `add`'s check before writing: the management role (one GetRole; its policies
//! only when it assumes itself or native chaining's target), the hub's issuer and IAM OIDC
//! providers (IRSA) or the pod identity agent, and each target role its account reaches. A read that fails
//! leaves its fact unknown: the check then says "cannot tell", which never stops `add`.

use std::future::{Future, poll_fn};
use std::pin::Pin;

use futures::future::{MaybeDone, join_all, maybe_done};

use crate::cli::settings::{AddSettings, IdentityChoice};
use crate::commands::Ports;
use crate::commands::doctor::role_facts;
use crate::commands::targets::{hub_named_by_context, pod_identity_agent};
use crate::core::checks::{PreflightFacts, RoleFacts, target_roles};
use crate::core::model::{ClusterArn, IdentityMode, RoleArn};
use crate::core::plan::{HubIdentity, Registration};
use crate::core::pod_identity::PodIdentityAgent;
use crate::core::policy::document::parse_policy;
use crate::ports::HubContext;
use crate::ports::{EksRead, HubRead, IamRead};

/// What the check's reads depend on, all of it known before the plan: the facts read for
/// these inputs are the facts, whenever they were read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FactsInputs {
    pub(super) mode: IdentityMode,
    pub(super) management_role: RoleArn,
    /// Native chaining's target role (EKS assumes it with the management role).
    pub(super) native_target: Option<RoleArn>,
    /// Each roleARN the Secrets will name, once.
    pub(super) targets: Vec<RoleArn>,
    /// The hub's EKS cluster, when known (for IRSA, its OIDC issuer is read from it).
    pub(super) hub_cluster: Option<ClusterArn>,
}

impl FactsInputs {
    pub(super) fn of(
        identity: &HubIdentity,
        registrations: &[Registration],
        hub_cluster: Option<ClusterArn>,
    ) -> Self {
        FactsInputs {
            mode: identity.mode,
            management_role: identity.management_role.clone(),
            native_target: identity.native_target.clone(),
            targets: target_roles(registrations),
            hub_cluster,
        }
    }
}

/// The check's inputs as the flags give them, before anything is read: with `--identity`
/// IRSA or pod identity, `--management-role-arn`, no native chaining, and the hub's cluster
/// named by the kube context (none of it asked for, detected or looked up). None otherwise.
pub(super) fn early_facts_inputs(add: &AddSettings, context: &HubContext) -> Option<FactsInputs> {
    let IdentityChoice::Fixed(mode @ (IdentityMode::Irsa | IdentityMode::PodIdentity)) =
        add.identity?
    else {
        return None;
    };
    if add.native_chaining {
        return None;
    }
    Some(FactsInputs {
        mode,
        management_role: add.management_role.clone()?,
        native_target: None,
        targets: add.target_role.iter().cloned().collect(),
        hub_cluster: Some(hub_named_by_context(context, add.hub_cluster.as_deref())?),
    })
}

type FactsReads<'a> = Pin<Box<dyn Future<Output = PreflightFacts> + 'a>>;

/// The check's reads, sent before the plan when the flags give all they depend on
/// ([`early_facts_inputs`]): polled beside whatever `add` awaits until the check asks for
/// them, and their answer used only when the inputs came out the same.
pub(super) struct EarlyFacts<'a> {
    reads: Option<(FactsInputs, Pin<Box<MaybeDone<FactsReads<'a>>>>)>,
}

impl<'a> EarlyFacts<'a> {
    pub(super) fn start<H: HubRead, A: EksRead + IamRead, P>(
        ports: &'a Ports<'a, H, A, P>,
        inputs: Option<FactsInputs>,
    ) -> Self {
        let reads = inputs.map(|inputs| {
            let for_reads = inputs.clone();
            let reads: FactsReads<'a> =
                Box::pin(async move { read_facts(ports, &for_reads, None).await });
            (inputs, Box::pin(maybe_done(reads)))
        });
        EarlyFacts { reads }
    }

    /// `work`, the reads going on beside it (polled after it: they wait for nothing it sends).
    pub(super) async fn beside<T>(&mut self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        poll_fn(|cx| {
            let done = work.as_mut().poll(cx);
            if done.is_pending()
                && let Some((_, reads)) = &mut self.reads
            {
                let _ = reads.as_mut().poll(cx);
            }
            done
        })
        .await
    }

    /// The facts the reads gave, when they were read for `inputs`; None: read them now.
    pub(super) async fn for_inputs(self, inputs: &FactsInputs) -> Option<PreflightFacts> {
        let (early, mut reads) = self.reads?;
        if early != *inputs {
            return None;
        }
        reads.as_mut().await;
        reads.as_mut().take_output()
    }
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
    inputs: &FactsInputs,
    agent: Option<PodIdentityAgent>,
) -> PreflightFacts {
    let own = ports.accounts.own();
    let management = &inputs.management_role;
    let targets = &inputs.targets;
    // Its permission policies matter only when it assumes itself (roleARN is the management
    // role) or EKS assumes the target role with it (native chaining).
    let full = targets.contains(management) || inputs.native_target.is_some();
    let irsa = inputs.mode == IdentityMode::Irsa;
    // Only credentials that really are the role's account may read it: another account's
    // GetRole would say "no such role" about a role that exists. The caller's own
    // credentials usually are (no --assume-role reaches it): their reads go out beside
    // GetCallerIdentity and count only if it says so.
    let guess_own = !ports.accounts.is_assumed(&management.account);
    let pod_identity_agent = async {
        match (inputs.mode, agent, &inputs.hub_cluster) {
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
        let target = inputs.native_target.as_ref()?;
        if inputs.mode != IdentityMode::PodIdentity {
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

/// Read the facts of the check; reads only, and none of them fails `add`. `agent`: the pod
/// identity agent as `--identity auto` saw it (None: not looked for).
pub(super) async fn read_facts<H: HubRead, A: EksRead + IamRead, P>(
    ports: &Ports<'_, H, A, P>,
    inputs: &FactsInputs,
    agent: Option<PodIdentityAgent>,
) -> PreflightFacts {
    if inputs.mode == IdentityMode::Capability {
        return PreflightFacts::default();
    }
    let own = ports.accounts.own();
    // The hub's cluster (IRSA: its issuer) does not depend on who the caller is: it is read
    // while GetCallerIdentity and the IAM reads after it are in flight.
    let hub_cluster = async {
        match (inputs.mode, &inputs.hub_cluster) {
            (IdentityMode::Irsa, Some(arn)) => own
                .describe_cluster(&arn.region, &arn.name)
                .await
                .ok()
                .flatten(),
            _ => None,
        }
    };
    let (iam_facts, hub_cluster) = futures::join!(iam_facts(ports, inputs, agent), hub_cluster);
    PreflightFacts {
        hub_cluster,
        ..iam_facts
    }
}
