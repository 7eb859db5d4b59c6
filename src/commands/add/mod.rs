//! `add`: observe -> plan -> show -> confirm -> apply -> verify, for one or more target clusters.

use crate::cli::args::{DryRun, OutputFormat};
use crate::cli::output::add::{AddReport, Checks, failed};
use crate::cli::output::manifests::manifests;
use crate::cli::output::{Outcome, emit, restart_command, show, write_document};
use crate::cli::settings::{AddSettings, IdentityChoice, Settings};
use crate::commands::Ports;
use crate::commands::targets::{
    argocd_namespace, auto_identity, find_hub_cluster, find_targets, search_regions,
};
use crate::core::checks::{Status, preflight_checks};
use crate::core::model::IdentityMode;
use crate::core::plan::{
    HubIdentity, PlanError, Registration, check_ready, identity_changed_at, plan,
};
use crate::core::progress::Progress;
use crate::error::{Error, Result};
use crate::ports::{EksRead, EksWrite, HubRead, HubWrite, IamRead, IamWrite, Prompt, Write};

mod apply;
mod converge;
mod guided;
mod live;
mod live_rows;
mod next;
mod observe;
mod preflight;
mod read_back;
mod restart;
mod roles;

use crate::adapters::prompt::needs_flag;
use apply::{Applied, apply};
use converge::converge;
use guided::{Answers, Start};
use live::Live;
use live_rows::Fleet;
use next::doctor_command;
use observe::{hub_lists, observe, unlisted_secrets};
use preflight::{EarlyFacts, FactsInputs, early_facts_inputs, read_facts};
use restart::restart_if_stale;

/// `work`, with guided discovery going on beside it when there is one.
async fn beside<T>(
    live: &mut Option<Live<'_>>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match live {
        Some(live) => live.beside(work).await,
        None => work.await,
    }
}

pub(crate) async fn run<
    H: HubRead + HubWrite,
    E: EksRead + EksWrite + IamRead + IamWrite,
    P: Prompt,
>(
    settings: &Settings,
    add: &AddSettings,
    ports: Ports<'_, H, E, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let hub_eks = ports.accounts.own();
    let regions = search_regions(
        &settings.aws.regions,
        settings.aws.all_regions,
        default_region,
    )?;
    // Guided: no cluster on the command line, so pick one and ask for what flags left out.
    let guided = add.targets.is_empty();
    // Guided: discovery runs behind the hub's reads and the picker (commands/add/live.rs).
    let fleet = Fleet::new(ports.accounts.assumed_ids(), &ports.hub.context().server);
    let mut live = guided.then(|| Live::start(ports.accounts, &regions, &fleet));
    let namespace = beside(&mut live, argocd_namespace(ports.hub, settings)).await?;

    // Named clusters are described while the hub's lists and the rules review (for the RBAC
    // check before writing; none for a client-side dry run) are read. Three hub requests at
    // once also leave the three connections the service accounts' writes go out on open: a
    // request right behind a new connection's TLS handshake can wait out the server's delayed
    // ACK (~40 ms), as the kube client leaves Nagle's algorithm on.
    let (found, lists, review) = if guided {
        (Vec::new(), None, None)
    } else {
        let review = async {
            if settings.dry_run == DryRun::Client {
                Ok(None)
            } else {
                ports.hub.rules_review(&namespace).await.map(Some)
            }
        };
        let (clusters, lists, review) = futures::try_join!(
            find_targets(ports.accounts, &add.targets, &regions),
            hub_lists(ports.hub, &namespace),
            review
        )?;
        (clusters, Some(lists), review)
    };
    // Before any question: a cluster that is not ACTIVE cannot be registered (guided: the
    // picked ones, once picked).
    if !guided {
        for cluster in &found {
            check_ready(cluster).map_err(|e| plan_error(&e))?;
        }
    }

    let choice = add.identity.unwrap_or(IdentityChoice::Auto);
    let needs_hub = !matches!(
        choice,
        IdentityChoice::Fixed(IdentityMode::Irsa | IdentityMode::Capability)
    );
    let hub_cluster = if !needs_hub {
        None
    } else {
        let find = find_hub_cluster(
            ports.hub.context(),
            hub_eks,
            add.hub_cluster.as_deref(),
            &regions,
        );
        beside(&mut live, find).await?
    };
    // Auto looks for the pod identity agent; the check before writing uses what it saw.
    let (detected, agent_seen) = match choice {
        IdentityChoice::Fixed(mode) => (mode, None),
        IdentityChoice::Auto => {
            let auto = auto_identity(ports.hub, hub_eks, hub_cluster.as_ref());
            beside(&mut live, auto).await?
        }
    };
    let start = Start {
        clusters: &found,
        namespace: &namespace,
        mode: detected,
        hub_cluster: hub_cluster.as_ref(),
        regions: &regions,
        default_region,
    };
    let answers = match live.as_mut() {
        Some(live) => guided::ask(&ports, settings, add, &start, live, out).await?,
        None => guided::answer_from_flags(&ports, settings, add, &start, out).await?,
    };
    // Discovery's describes not waited for are dropped.
    drop(live);
    let Answers {
        clusters,
        mode,
        target_role,
        access,
        ..
    } = answers;
    let Some(management_role) = answers.management_role else {
        return Err(needs_flag("--management-role-arn"));
    };
    if guided {
        for cluster in &clusters {
            check_ready(cluster).map_err(|e| plan_error(&e))?;
        }
    }

    // Native chaining: EKS assumes the target role for the pods, so no Secret names it.
    let native_target = if add.native_chaining {
        if mode != IdentityMode::PodIdentity {
            return Err(Error::usage(format!(
                "--native-chaining needs pod identity, and the hub's identity mode is {mode}: pass --identity pod-identity (the hub needs the eks-pod-identity-agent), or drop --native-chaining"
            )));
        }
        target_role.clone()
    } else {
        None
    };
    let mut secret = add.secret.clone();
    secret.namespace = namespace.clone();
    let registrations: Vec<Registration> = clusters
        .into_iter()
        .map(|cluster| Registration {
            cluster,
            target_role: target_role.clone().filter(|_| native_target.is_none()),
            secret: secret.clone(),
            access: access.clone(),
        })
        .collect();
    let identity = HubIdentity {
        namespace,
        management_role,
        mode,
        hub_cluster,
        replace_identity: add.replace_identity,
        native_target,
    };

    // Not guided, with the identity fixed by flags, the check's reads depend on nothing the
    // plan finds: once the lists show a Secret to create or take over (the plan writes), they
    // go out beside the rest of the plan's reads instead of after the plan, a round trip less
    // before writing; a re-run with nothing to write does not send them.
    let plan_writes = lists
        .as_ref()
        .is_some_and(|(secrets, _)| !unlisted_secrets(&registrations, secrets).is_empty());
    let early_inputs = plan_writes
        .then(|| early_facts_inputs(add, ports.hub.context()))
        .flatten();
    let mut early_facts = EarlyFacts::start(&ports, early_inputs);
    let observed = early_facts
        .beside(observe(&ports, &identity, &registrations, lists))
        .await?;
    let plan = plan(&identity, &registrations, &observed).map_err(|e| plan_error(&e))?;
    show(out, settings.output, &plan)?;
    // Check before writing what doctor will check once it is written; with nothing to write
    // there is nothing to refuse (doctor checks a registration that is in place).
    let checks = if plan.is_noop() {
        Vec::new()
    } else {
        // IRSA's trust names the hub's OIDC issuer, so the check needs the hub's cluster.
        let cluster = match (&identity.hub_cluster, mode) {
            (Some(arn), _) => Some(arn.clone()),
            (None, IdentityMode::Irsa) => find_hub_cluster(
                ports.hub.context(),
                hub_eks,
                add.hub_cluster.as_deref(),
                &regions,
            )
            .await
            .ok()
            .flatten(),
            (None, _) => None,
        };
        let inputs = FactsInputs::of(&identity, &registrations, cluster);
        let facts = match early_facts.for_inputs(&inputs).await {
            Some(facts) => facts,
            None => read_facts(&ports, &inputs, agent_seen).await,
        };
        preflight_checks(&identity, &registrations, &observed, &facts)
    };
    show(out, settings.output, &Checks(&checks))?;
    let refused = failed(&checks) > 0 && !add.force;

    let restart = add.restart && plan.needs_restart();
    let mut report = AddReport {
        plan: &plan,
        outcome: Outcome::Refused,
        checks: &checks,
        forced: add.force && failed(&checks) > 0,
        doctor_command: None,
        restart_needed: false,
        restart_command: restart_command(&identity.namespace),
        restarted: Vec::new(),
        steps: Progress::default(),
    };
    if refused && settings.dry_run == DryRun::None {
        // Refused before the question: nothing is written.
        if settings.output != OutputFormat::Text {
            emit(out, settings.output, &report)?;
        }
        return Err(Error::WouldNotWork(failed(&checks)));
    }
    let (outcome, applied) = if plan.is_noop() {
        let stale = if add.restart && settings.dry_run == DryRun::None {
            let changed = identity_changed_at(&identity, &observed);
            restart_if_stale(ports.hub, &identity.namespace, changed).await?
        } else {
            Ok(Applied::default())
        };
        match stale {
            Ok(applied) => (Outcome::Unchanged, applied),
            Err(stopped) => {
                report.outcome = Outcome::Failed;
                report.steps = stopped.applied.progress;
                emit(out, settings.output, &report)?;
                return Err(stopped.error);
            }
        }
    } else {
        match settings.dry_run {
            DryRun::Client => (Outcome::DryRunClient, Applied::default()),
            DryRun::Server => {
                match apply(&ports, &plan, restart, Write::ServerDryRun, review).await? {
                    Ok(applied) => (Outcome::DryRunServer, applied),
                    Err(stopped) => return Err(stopped.error),
                }
            }
            DryRun::None => {
                if !settings.yes && !ports.prompt.confirm("Apply these changes?")? {
                    return Err(Error::Cancelled);
                }
                let first = apply(&ports, &plan, restart, Write::Real, review).await?;
                match converge(&ports, &identity, &registrations, &observed, first).await {
                    Ok(applied) => (Outcome::Applied, applied),
                    Err(stopped) => {
                        report.outcome = Outcome::Failed;
                        report.restarted.clone_from(&stopped.applied.restarted);
                        report.steps = stopped.applied.progress;
                        emit(out, settings.output, &report)?;
                        return Err(stopped.error);
                    }
                }
            }
        }
    };
    if settings.dry_run != DryRun::None
        && matches!(settings.output, OutputFormat::Yaml | OutputFormat::Json)
    {
        // kubectl's way: the objects themselves; the plan as data is -o plan-yaml|plan-json.
        let (list, aws_writes) = manifests(&plan);
        for write in &aws_writes {
            eprintln!("Not in the List (an AWS write, not a Kubernetes object): {write}");
        }
        for check in checks.iter().filter(|c| c.status != Status::Pass) {
            let fix = check
                .fix
                .as_deref()
                .map(|f| format!("; fix: {f}"))
                .unwrap_or_default();
            eprintln!(
                "Check before writing: {}: {}{fix}",
                check.check, check.detail
            );
        }
        write_document(out, settings.output, &list)?;
        return Ok(());
    }
    report.outcome = outcome;
    report.restart_needed =
        outcome == Outcome::Applied && plan.needs_restart() && applied.restarted.is_empty();
    report.restarted = applied.restarted;
    report.steps = applied.progress;
    if matches!(outcome, Outcome::Applied | Outcome::Unchanged) {
        report.doctor_command = Some(doctor_command(settings, &registrations, &identity));
    }
    emit(out, settings.output, &report)
}

fn plan_error(error: &PlanError) -> Error {
    let message = error.to_string();
    match error {
        PlanError::SecretNameTaken { .. }
        | PlanError::AlreadyRegistered { .. }
        | PlanError::ServerTaken { .. }
        | PlanError::NativeChainingChangesOthers { .. }
        | PlanError::IdentityInUse { .. } => Error::Conflict {
            what: message,
            fix: "Nothing was changed".into(),
        },
        // NotFound says "<what> was not found. <fix>": the account alone, then the question.
        PlanError::ServiceAccountMissing {
            service_account,
            namespace,
        } => Error::NotFound {
            what: format!("service account {service_account}"),
            fix: format!(
                "Is Argo CD installed in namespace {namespace}? Pass --argocd-namespace with the namespace Argo CD runs in. Nothing was changed"
            ),
        },
        PlanError::HubClusterUnknown | PlanError::CrossPartition { .. } => Error::Usage(message),
        PlanError::NotActive { .. } => Error::NotReady { what: message },
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_apply;
#[cfg(test)]
mod tests_checks;
#[cfg(test)]
mod tests_early_facts;
#[cfg(test)]
mod tests_live;
#[cfg(test)]
mod tests_roles;
