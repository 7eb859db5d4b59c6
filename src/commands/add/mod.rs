//! `add`: observe -> plan -> show -> confirm -> apply -> verify, for one or more target clusters.

use std::collections::BTreeSet;

use crate::cli::args::{DryRun, OutputFormat};
use crate::cli::output::add::AddReport;
use crate::cli::output::manifests::manifests;
use crate::cli::output::{Outcome, emit, restart_command, show, write_document};
use crate::cli::settings::{AddSettings, IdentityChoice, Settings};
use crate::commands::targets::{
    argocd_namespace, auto_identity, find_hub_cluster, find_target, search_regions,
};
use crate::commands::{Ports, nothing_left, require_rbac};
use crate::core::access::{ObservedAccess, TargetAccess};
use crate::core::action::{Change, Step};
use crate::core::model::{AccessScope, DEFAULT_ACCESS_POLICY, IRSA_ANNOTATION, IdentityMode};
use crate::core::plan::{HubIdentity, Observed, Plan, PlanError, Registration, plan};
use crate::core::secret::default_secret_name;
use crate::error::{Error, Result};
use crate::ports::{EksRead, EksWrite, HubRead, HubWrite, Prompt, Workload, WorkloadKind, Write};

/// Argo CD's workloads whose pods carry the identity, restarted with `--restart`.
const ARGOCD_WORKLOADS: [Workload; 3] = [
    Workload {
        kind: WorkloadKind::StatefulSet,
        name: "argocd-application-controller",
    },
    Workload {
        kind: WorkloadKind::Deployment,
        name: "argocd-server",
    },
    Workload {
        kind: WorkloadKind::Deployment,
        name: "argocd-applicationset-controller",
    },
];

mod guided;

use guided::{ask_access, ask_management_role, ask_target_role, pick_targets};

pub(crate) async fn run<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
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
    let namespace = argocd_namespace(ports.hub, settings).await?;

    let clusters = if guided {
        pick_targets(&ports, &regions, &namespace).await?
    } else {
        let mut clusters = Vec::with_capacity(add.targets.len());
        for target in &add.targets {
            clusters.push(find_target(ports.accounts, target, &regions).await?);
        }
        clusters
    };

    let choice = add.identity.unwrap_or(IdentityChoice::Auto);
    let needs_hub = !matches!(
        choice,
        IdentityChoice::Fixed(IdentityMode::Irsa | IdentityMode::Capability)
    );
    let hub_cluster = if !needs_hub {
        None
    } else {
        find_hub_cluster(
            ports.hub.context(),
            hub_eks,
            add.hub_cluster.as_deref(),
            &regions,
        )
        .await?
    };
    let mut mode = match choice {
        IdentityChoice::Fixed(mode) => mode,
        IdentityChoice::Auto => auto_identity(ports.hub, hub_eks, hub_cluster.as_ref()).await?,
    };
    if guided && add.identity.is_none() {
        let modes = [IdentityMode::PodIdentity, IdentityMode::Irsa];
        let items = [
            "pod-identity (EKS Pod Identity associations)".to_owned(),
            "irsa (service account annotation, needs the hub's OIDC provider)".to_owned(),
        ];
        let default = modes.iter().position(|m| *m == mode).unwrap_or(0);
        mode = modes[ports.prompt.pick_one(
            "How do Argo CD's pods get their AWS identity?",
            "--identity",
            &items,
            default,
        )?];
    }
    let management_role = match &add.management_role {
        Some(role) => role.clone(),
        None => ask_management_role(&ports, &namespace, mode, hub_cluster.as_ref()).await?,
    };
    let target_role = match &add.target_role {
        Some(role) => Some(role.clone()),
        None if guided => ask_target_role(ports.prompt)?,
        None => None,
    };
    let access = if add.skip_access {
        None
    } else {
        Some(match &add.access {
            Some(access) => access.clone(),
            None if guided => ask_access(ports.prompt)?,
            None => TargetAccess {
                policy: DEFAULT_ACCESS_POLICY.to_owned(),
                scope: AccessScope::Cluster,
            },
        })
    };

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

    let observed = observe(&ports, &identity, &registrations).await?;
    let plan = plan(&identity, &registrations, &observed).map_err(|e| plan_error(&e))?;
    show(out, settings.output, &plan)?;

    let restart = add.restart && plan.needs_restart();
    let (outcome, restarted) = if plan.is_noop() {
        (Outcome::Unchanged, Vec::new())
    } else {
        match settings.dry_run {
            DryRun::Client => (Outcome::DryRunClient, Vec::new()),
            DryRun::Server => {
                let restarted = apply(&ports, &plan, restart, Write::ServerDryRun).await?;
                (Outcome::DryRunServer, restarted)
            }
            DryRun::None => {
                if !settings.yes && !ports.prompt.confirm("Apply these changes?")? {
                    return Err(Error::Cancelled);
                }
                let restarted = apply(&ports, &plan, restart, Write::Real).await?;
                verify(&ports, &identity, &registrations).await?;
                (Outcome::Applied, restarted)
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
        write_document(out, settings.output, &list)?;
        return Ok(());
    }
    let report = AddReport {
        plan: &plan,
        outcome,
        restart_needed: outcome == Outcome::Applied && plan.needs_restart() && restarted.is_empty(),
        restart_command: restart_command(&identity.namespace),
        restarted,
    };
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
    }
}

/// Read everything the plan depends on; reads only.
async fn observe<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
) -> Result<Observed> {
    let namespace = &identity.namespace;
    let mut secrets = ports.hub.cluster_secrets(namespace).await?;
    let mut access = ObservedAccess::new();
    for registration in registrations {
        let name = registration
            .secret
            .secret_name
            .clone()
            .unwrap_or_else(|| default_secret_name(&registration.cluster.arn));
        if !secrets.iter().any(|s| s.name == name)
            && let Some(secret) = ports.hub.secret(namespace, &name).await?
        {
            secrets.push(secret);
        }
        let cluster = &registration.cluster;
        let takes_entries = cluster
            .authentication_mode
            .is_some_and(|mode| mode.allows_access_entries());
        if registration.access.is_some() && takes_entries {
            let principal = registration.principal(identity).to_string();
            let entry = ports
                .accounts
                .for_account(&cluster.arn.account)
                .access_entry(&cluster.arn, &principal)
                .await?;
            access.insert(cluster.arn.to_string(), entry.map(|e| e.policies));
        }
    }
    let service_accounts = ports.hub.service_accounts(namespace).await?;
    let associations = match (&identity.mode, &identity.hub_cluster) {
        (IdentityMode::PodIdentity, Some(hub_cluster)) => {
            ports
                .accounts
                .own()
                .pod_identity_associations(hub_cluster, namespace)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(Observed {
        secrets,
        service_accounts,
        associations,
        access,
    })
}

/// The RBAC the plan's Kubernetes writes need, checked before anything is written.
async fn check_hub_permissions<H: HubRead>(hub: &H, plan: &Plan, restart: bool) -> Result<()> {
    let mut needed = BTreeSet::new();
    let mut namespace = None;
    for action in plan.writes() {
        match &action.step {
            Step::ApplySecret { secret } => {
                namespace = Some(secret.namespace.clone());
                needed.insert(("patch", "", "secrets"));
                if action.change == Change::Create {
                    needed.insert(("create", "", "secrets"));
                }
            }
            Step::AnnotateServiceAccount {
                service_account, ..
            } => {
                namespace = Some(service_account.namespace.clone());
                needed.insert(("patch", "", "serviceaccounts"));
            }
            _ => {}
        }
    }
    if restart {
        needed.insert(("patch", "apps", "statefulsets"));
        needed.insert(("patch", "apps", "deployments"));
    }
    let Some(namespace) = namespace else {
        return Ok(());
    };
    require_rbac(
        hub,
        &namespace,
        needed,
        format!(
            "Nothing was changed. Ask a cluster admin for that RBAC, e.g. kubectl -n {namespace} create role argocd-eks-registrar --verb=get,list,create,patch --resource=secrets,serviceaccounts and a rolebinding to you"
        ),
    )
    .await
}

/// Make the plan's writes in its order (identity, target access, Secrets), then restart
/// Argo CD's workloads when asked; writes only. Returns the restarted workloads.
async fn apply<H: HubRead + HubWrite, E: EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    plan: &Plan,
    restart: bool,
    write: Write,
) -> Result<Vec<String>> {
    check_hub_permissions(ports.hub, plan, restart).await?;
    let hub_eks = ports.accounts.own();
    for action in plan.writes() {
        match &action.step {
            Step::ApplySecret { secret } => ports.hub.apply_secret(secret, write).await?,
            Step::AnnotateServiceAccount {
                service_account,
                role_arn,
            } => {
                ports
                    .hub
                    .annotate_service_account(
                        service_account,
                        IRSA_ANNOTATION,
                        &role_arn.to_string(),
                        write,
                    )
                    .await?;
            }
            // AWS has no dry run: on a server dry run only Kubernetes writes are sent.
            _ if write == Write::ServerDryRun => {}
            Step::CreatePodIdentityAssociation {
                hub_cluster,
                service_account,
                role_arn,
                target_role_arn,
            } => {
                hub_eks
                    .create_pod_identity_association(
                        hub_cluster,
                        service_account,
                        role_arn,
                        target_role_arn.as_ref(),
                    )
                    .await?;
            }
            Step::UpdatePodIdentityAssociation {
                hub_cluster,
                association_id,
                role_arn,
                target_role_arn,
                ..
            } => {
                hub_eks
                    .update_pod_identity_association(
                        hub_cluster,
                        association_id,
                        role_arn,
                        target_role_arn.as_ref(),
                    )
                    .await?;
            }
            Step::CreateAccessEntry {
                cluster,
                principal_arn,
            } => {
                ports
                    .accounts
                    .for_account(&cluster.account)
                    .create_access_entry(cluster, principal_arn)
                    .await?;
            }
            Step::AssociateAccessPolicy {
                cluster,
                principal_arn,
                policy_arn,
                scope,
            } => {
                ports
                    .accounts
                    .for_account(&cluster.account)
                    .associate_access_policy(cluster, principal_arn, policy_arn, scope)
                    .await?;
            }
        }
    }
    if !restart {
        return Ok(Vec::new());
    }
    let namespace = plan
        .actions
        .iter()
        .find_map(|a| match &a.step {
            Step::ApplySecret { secret } => Some(secret.namespace.clone()),
            _ => None,
        })
        .unwrap_or_default();
    ports
        .hub
        .restart_workloads(&namespace, &ARGOCD_WORKLOADS, write)
        .await
}

/// Read back and plan again: after a successful apply there must be nothing left to do.
async fn verify<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
) -> Result<()> {
    let observed = observe(ports, identity, registrations).await?;
    let again = plan(identity, registrations, &observed).map_err(|e| plan_error(&e))?;
    nothing_left(
        &again
            .writes()
            .map(|a| format!("{} ({})", a.step.subject(), a.detail))
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
pub(crate) mod tests;
