//! `add`'s writes: the RBAC review before them, then the plan's writes in order and the
//! restart of Argo CD's workloads, recording what became of each (done, already done by
//! someone else, failed, not done) so a run that stops part way says so.

use std::collections::BTreeSet;

use crate::commands::{Ports, require_rbac};
use crate::core::action::{Change, Step};
use crate::core::model::IRSA_ANNOTATION;
use crate::core::plan::Plan;
use crate::core::progress::{Progress, StepStatus};
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

/// What the writes did: each step's record, and the workloads restarted.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) progress: Progress,
    pub(super) restarted: Vec<String>,
}

/// A run that stopped at a failed write: what was done before it, and the write's error.
#[derive(Debug)]
pub(super) struct Stopped {
    pub(super) applied: Applied,
    pub(super) error: Error,
}

/// How one write ended when it did not fail.
enum Wrote {
    Done,
    /// Refused as already made, and read back as this run wanted it: who made it, for the report.
    AlreadyDone(String),
}

/// Every write of `plan`, not done yet.
pub(super) fn planned(plan: &Plan) -> Progress {
    Progress::planned(
        plan.writes()
            .map(|a| (a.step.subject(), a.change.to_string())),
    )
}

/// The RBAC review, then the plan's writes (see [`write_all`]). Errors before any write
/// (the review) are plain errors: nothing was changed.
pub(super) async fn apply<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    plan: &Plan,
    restart: bool,
    write: Write,
) -> Result<Result<Applied, Stopped>> {
    check_hub_permissions(ports.hub, plan, restart).await?;
    Ok(write_all(ports, plan, restart, write).await)
}

/// Make the plan's writes in its order (identity, target access, Secrets), then restart
/// Argo CD's workloads when asked; writes only (and read-backs of a write refused as already
/// made). Stops at the first failed write: what was done stays, the rest is `not done`, and
/// running the same command again plans from what is there and makes only what is missing.
pub(super) async fn write_all<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    plan: &Plan,
    restart: bool,
    write: Write,
) -> Result<Applied, Stopped> {
    let mut applied = Applied {
        progress: planned(plan),
        restarted: Vec::new(),
    };
    for (index, action) in plan.writes().enumerate() {
        match write_step(ports, &action.step, write).await {
            Ok(Wrote::Done) => applied.progress.mark(index, StepStatus::Done, None),
            Ok(Wrote::AlreadyDone(who)) => {
                applied
                    .progress
                    .mark(index, StepStatus::AlreadyDone, Some(who));
            }
            Err(error) => {
                applied
                    .progress
                    .mark(index, StepStatus::Failed, Some(error.to_string()));
                return Err(Stopped { applied, error });
            }
        }
    }
    if !restart {
        return Ok(applied);
    }
    let namespace = plan
        .actions
        .iter()
        .find_map(|a| match &a.step {
            Step::ApplySecret { secret } => Some(secret.namespace.clone()),
            _ => None,
        })
        .unwrap_or_default();
    match ports
        .hub
        .restart_workloads(&namespace, &ARGOCD_WORKLOADS, write)
        .await
    {
        Ok(restarted) => {
            for workload in &restarted {
                applied
                    .progress
                    .push(workload.clone(), "restart", StepStatus::Done);
            }
            applied.restarted = restarted;
            Ok(applied)
        }
        Err(error) => {
            applied.progress.push(
                format!("Argo CD's workloads in namespace {namespace}"),
                "restart",
                StepStatus::Failed,
            );
            let last = applied.progress.steps.len() - 1;
            applied
                .progress
                .mark(last, StepStatus::Failed, Some(error.to_string()));
            Err(Stopped { applied, error })
        }
    }
}

/// One write. A create refused because the object is there already (EKS ResourceInUse,
/// Kubernetes 409) is read back: as this run wants it, it is already done (by another run at
/// the same time); otherwise it is a conflict that names what is there.
async fn write_step<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &Step,
    write: Write,
) -> Result<Wrote> {
    let hub_eks = ports.accounts.own();
    let result = match step {
        Step::ApplySecret { secret } => ports.hub.apply_secret(secret, write).await,
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
                .await
        }
        // AWS has no dry run: on a server dry run only Kubernetes writes are sent.
        _ if write == Write::ServerDryRun => Ok(()),
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
                .await
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
                .await
        }
        Step::CreateAccessEntry {
            cluster,
            principal_arn,
        } => {
            ports
                .accounts
                .for_account(&cluster.account)
                .create_access_entry(cluster, principal_arn)
                .await
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
                .await
        }
    };
    match result {
        Ok(()) => Ok(Wrote::Done),
        Err(error @ Error::Conflict { .. }) => read_back(ports, step, error).await,
        Err(error) => Err(error),
    }
}

/// After a write refused as conflicting: what is there now, compared with what `step` wants.
async fn read_back<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &Step,
    refused: Error,
) -> Result<Wrote> {
    const BY_ANOTHER: &str = "made meanwhile by someone else (another run?), as this run wanted it";
    let subject = step.subject();
    let conflict = |there: String, fix: String| Error::Conflict {
        what: format!("{subject} was changed meanwhile by someone else: {there}"),
        fix: format!("It was left as it is. {fix}"),
    };
    match step {
        Step::CreatePodIdentityAssociation {
            hub_cluster,
            service_account,
            role_arn,
            target_role_arn,
        } => {
            let there = ports
                .accounts
                .own()
                .pod_identity_associations(hub_cluster, &service_account.namespace)
                .await?;
            let Some(found) = there.iter().find(|a| a.service_account == *service_account) else {
                return Err(refused);
            };
            let wanted_target = target_role_arn.as_ref().map(ToString::to_string);
            if found.role_arn == role_arn.to_string() && found.target_role_arn == wanted_target {
                return Ok(Wrote::AlreadyDone(format!(
                    "association {} {BY_ANOTHER}",
                    found.id
                )));
            }
            Err(conflict(
                format!(
                    "association {} has role {}{}, this run wanted {role_arn}{}",
                    found.id,
                    found.role_arn,
                    found
                        .target_role_arn
                        .as_deref()
                        .map(|t| format!(" (target role {t})"))
                        .unwrap_or_default(),
                    wanted_target
                        .map(|t| format!(" (target role {t})"))
                        .unwrap_or_default(),
                ),
                "Run the same command again to see the plan against it, and pass --replace-identity to switch it to this run's role".into(),
            ))
        }
        Step::CreateAccessEntry {
            cluster,
            principal_arn,
        } => {
            let there = ports
                .accounts
                .for_account(&cluster.account)
                .access_entry(cluster, &principal_arn.to_string())
                .await?;
            match there {
                // An entry is the principal alone: its policies are the next step's.
                Some(_) => Ok(Wrote::AlreadyDone(format!("the entry was {BY_ANOTHER}"))),
                None => Err(refused),
            }
        }
        Step::ApplySecret { secret } => {
            let Some(there) = ports.hub.secret(&secret.namespace, &secret.name).await? else {
                return Err(refused);
            };
            let same = there.data == secret.data
                && secret
                    .labels
                    .iter()
                    .all(|(k, v)| there.labels.get(k) == Some(v))
                && secret
                    .annotations
                    .iter()
                    .all(|(k, v)| there.annotations.get(k) == Some(v));
            if same {
                Ok(Wrote::AlreadyDone(format!("the Secret was {BY_ANOTHER}")))
            } else {
                Err(conflict(
                    "its data or labels differ from this run's".into(),
                    "Run the same command again to see the plan against it".into(),
                ))
            }
        }
        Step::AnnotateServiceAccount {
            service_account,
            role_arn,
        } => {
            let there = ports
                .hub
                .service_accounts(&service_account.namespace)
                .await?;
            let role = there
                .iter()
                .find(|sa| sa.name == service_account.name)
                .and_then(|sa| sa.irsa_role.clone());
            match role {
                Some(role) if role == role_arn.to_string() => {
                    Ok(Wrote::AlreadyDone(format!("the annotation was {BY_ANOTHER}")))
                }
                Some(role) => Err(conflict(
                    format!("it names role {role}, this run wanted {role_arn}"),
                    "Run the same command again to see the plan against it, and pass --replace-identity to switch it to this run's role".into(),
                )),
                None => Err(refused),
            }
        }
        Step::UpdatePodIdentityAssociation { .. } | Step::AssociateAccessPolicy { .. } => {
            Err(refused)
        }
    }
}
