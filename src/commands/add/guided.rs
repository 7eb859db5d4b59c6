//! `add`'s guided mode: with no CLUSTER on a terminal, pick the clusters from a list and answer
//! what the flags left out (identity, management role, target role, access policy), one
//! question at a time; Esc goes back one question. Not guided, the same answers from the flags.

use crate::adapters::prompt::needs_flag;
use crate::cli::settings::{AddSettings, Settings};
use crate::commands::Ports;
use crate::commands::targets::Regions;
use crate::core::access::{ACCESS_POLICIES, TargetAccess};
use crate::core::model::{
    AccessScope, ClusterArn, DEFAULT_ACCESS_POLICY, EksCluster, IdentityMode, RoleArn,
};
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubRead, IamRead, IamWrite, Prompt, Reply};

use super::live::Live;
use super::roles::{RoleStep, ask_management_role, ask_target_role};

/// What guided mode starts from: the clusters found, and what was detected about the hub.
pub(super) struct Start<'a> {
    pub(super) clusters: &'a [EksCluster],
    pub(super) namespace: &'a str,
    pub(super) mode: IdentityMode,
    pub(super) hub_cluster: Option<&'a ClusterArn>,
    pub(super) regions: &'a Regions,
    pub(super) default_region: Option<&'a str>,
}

/// The answers, with what the flags gave filled in.
pub(super) struct Answers {
    pub(super) clusters: Vec<EksCluster>,
    pub(super) mode: IdentityMode,
    /// Some once the question is answered (or the flag gave it).
    pub(super) management_role: Option<RoleArn>,
    pub(super) target_role: Option<RoleArn>,
    pub(super) access: Option<TargetAccess>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Clusters,
    Identity,
    Management,
    Target,
    Access,
}

const STEPS: [Step; 5] = [
    Step::Clusters,
    Step::Identity,
    Step::Management,
    Step::Target,
    Step::Access,
];

/// Ask each question the flags left out, in order; Esc at one goes back to the one before
/// (at the first it cancels).
pub(super) async fn ask<H: HubRead, E: EksRead + IamRead + IamWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    settings: &Settings,
    add: &AddSettings,
    start: &Start<'_>,
    live: &mut Live<'_>,
    out: &mut dyn std::io::Write,
) -> Result<Answers> {
    let asked = |step: Step| match step {
        Step::Clusters => true,
        Step::Identity => add.identity.is_none(),
        Step::Management => add.management_role.is_none(),
        Step::Target => add.target_role.is_none(),
        Step::Access => !add.skip_access && add.access.is_none(),
    };
    let steps: Vec<Step> = STEPS.into_iter().filter(|s| asked(*s)).collect();
    let mut answers = Answers {
        clusters: Vec::new(),
        mode: start.mode,
        management_role: add.management_role.clone(),
        target_role: add.target_role.clone(),
        access: if add.skip_access {
            None
        } else {
            add.access.clone().or(Some(TargetAccess {
                policy: ACCESS_POLICIES[0].to_owned(),
                scope: AccessScope::Cluster,
            }))
        },
    };
    let mut at = 0;
    while let Some(step) = steps.get(at) {
        let reply = match step {
            Step::Clusters => pick_clusters(ports, start, live, &answers.clusters)
                .await?
                .map(|picked| answers.clusters = picked),
            Step::Identity => ask_identity(ports.prompt, answers.mode)?.map(|m| answers.mode = m),
            Step::Management => {
                let step = RoleStep {
                    settings,
                    add,
                    start,
                    mode: answers.mode,
                };
                ask_management_role(ports, &step, out)
                    .await?
                    .map(|role| answers.management_role = Some(role))
            }
            Step::Target => {
                let Some(management) = answers.management_role.clone() else {
                    return Err(Error::usage("pass --management-role-arn"));
                };
                let step = RoleStep {
                    settings,
                    add,
                    start,
                    mode: answers.mode,
                };
                ask_target_role(ports, &step, &management, &answers.clusters, out)
                    .await?
                    .map(|role| answers.target_role = role)
            }
            Step::Access => ask_access(ports.prompt)?.map(|a| answers.access = Some(a)),
        };
        match reply {
            Reply::Answer(()) => at += 1,
            Reply::Back if at == 0 => return Err(Error::Cancelled),
            Reply::Back => at -= 1,
        }
    }
    Ok(answers)
}

/// Not guided: the clusters named; the management role asked for only on a terminal (as in
/// guided mode), else the flag is named; direct mode and the default access policy.
pub(super) async fn answer_from_flags<H: HubRead, E: EksRead + IamRead + IamWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    settings: &Settings,
    add: &AddSettings,
    start: &Start<'_>,
    out: &mut dyn std::io::Write,
) -> Result<Answers> {
    let management_role = match &add.management_role {
        Some(role) => role.clone(),
        None if !settings.interactive => return Err(needs_flag("--management-role-arn")),
        None => {
            let step = RoleStep {
                settings,
                add,
                start,
                mode: start.mode,
            };
            match ask_management_role(ports, &step, out).await? {
                Reply::Answer(role) => role,
                Reply::Back => return Err(Error::Cancelled),
            }
        }
    };
    let access = (!add.skip_access).then(|| {
        add.access.clone().unwrap_or(TargetAccess {
            policy: DEFAULT_ACCESS_POLICY.to_owned(),
            scope: AccessScope::Cluster,
        })
    });
    Ok(Answers {
        clusters: start.clusters.to_vec(),
        mode: start.mode,
        management_role: Some(management_role),
        target_role: add.target_role.clone(),
        access,
    })
}

/// The hub's facts the picker's marks need (read beside discovery), then the picker, open
/// as soon as every region has listed its clusters; the picked clusters, described.
async fn pick_clusters<H: HubRead, E: EksRead + IamRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    start: &Start<'_>,
    live: &mut Live<'_>,
    before: &[EksCluster],
) -> Result<Reply<Vec<EksCluster>>> {
    let fleet = live.fleet;
    let hub = ports.hub;
    let secrets = live.beside(hub.cluster_secrets(start.namespace)).await?;
    let registered = secrets
        .iter()
        .filter_map(|secret| secret.server().map(|s| s.trim_end_matches('/').to_owned()))
        .collect();
    fleet.set_marks(start.hub_cluster, registered);
    fleet.set_picked(before);
    live.listed().await?;
    loop {
        tracing::info!(
            rows = fleet.len(),
            ms = fleet.ms(),
            "discovery: picker shown"
        );
        let question = "Which clusters should Argo CD manage?";
        let reply = live
            .beside(ports.prompt.pick_many_live(question, "CLUSTER", fleet))
            .await;
        live.note_skipped();
        let picked = match reply? {
            Reply::Back => return Ok(Reply::Back),
            Reply::Answer(picked) if picked.is_empty() => {
                eprintln!(
                    "Nothing picked: press space on each cluster to pick it, then enter (esc cancels)."
                );
                continue;
            }
            Reply::Answer(picked) => picked,
        };
        let mut clusters = Vec::new();
        for (arn, cluster) in live.described(ports.accounts, &picked).await? {
            match cluster {
                Some(cluster) => clusters.push(cluster),
                None => eprintln!("{arn} no longer exists: it is left out."),
            }
        }
        if !clusters.is_empty() {
            return Ok(Reply::Answer(clusters));
        }
    }
}

fn ask_identity<P: Prompt>(prompt: &P, detected: IdentityMode) -> Result<Reply<IdentityMode>> {
    let modes = [IdentityMode::PodIdentity, IdentityMode::Irsa];
    let items = [
        "pod-identity (EKS Pod Identity associations)".to_owned(),
        "irsa (service account annotation, needs the hub's OIDC provider)".to_owned(),
    ];
    let default = modes.iter().position(|m| *m == detected).unwrap_or(0);
    Ok(
        match prompt.pick_one(
            "How do Argo CD's pods get their AWS identity?",
            "--identity",
            &items,
            default,
        )? {
            Reply::Answer(i) => Reply::Answer(modes[i.min(modes.len() - 1)]),
            Reply::Back => Reply::Back,
        },
    )
}

fn ask_access<P: Prompt>(prompt: &P) -> Result<Reply<TargetAccess>> {
    let items: Vec<String> = ACCESS_POLICIES.iter().map(|p| (*p).to_owned()).collect();
    let picked = prompt.pick_one(
        "Access policy for Argo CD on the target (cluster scope)",
        "--access-policy",
        &items,
        0,
    )?;
    Ok(match picked {
        Reply::Answer(i) => Reply::Answer(TargetAccess {
            policy: ACCESS_POLICIES[i.min(items.len() - 1)].to_owned(),
            scope: AccessScope::Cluster,
        }),
        Reply::Back => Reply::Back,
    })
}

/// Map an answer to `()` after storing it, keeping Back.
trait Store<T> {
    fn map(self, store: impl FnOnce(T)) -> Reply<()>;
}

impl<T> Store<T> for Reply<T> {
    fn map(self, store: impl FnOnce(T)) -> Reply<()> {
        match self {
            Reply::Answer(value) => {
                store(value);
                Reply::Answer(())
            }
            Reply::Back => Reply::Back,
        }
    }
}
