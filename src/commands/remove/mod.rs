//! `remove`: unregister clusters, removing identity and access only when nothing else needs them.
//! observe -> plan (core::removal) -> show -> confirm -> apply -> verify, as `add` does.

use std::collections::BTreeSet;

use crate::cli::args::DryRun;
use crate::cli::output::remove::RemoveReport;
use crate::cli::output::{Outcome, emit, show};
use crate::cli::settings::{Settings, TargetRef};
use crate::commands::registered::named;
use crate::commands::targets::argocd_namespace;
use crate::commands::{Ports, require_rbac};
use crate::core::model::IRSA_ANNOTATION;
use crate::core::progress::{Progress, StepStatus};
use crate::core::registration::eks_registrations;
use crate::core::removal::{RemovalPlan, RemovalStep, plan_removal};
use crate::error::{Error, Result};
use crate::ports::{EksRead, EksWrite, HubRead, HubWrite, Prompt, Write};

mod observe;

use observe::observe;

pub(crate) async fn run<H: HubRead + HubWrite, A: EksRead + EksWrite, P: Prompt>(
    settings: &Settings,
    clusters: &[TargetRef],
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let namespace = argocd_namespace(ports.hub, settings).await?;
    let mut secrets = ports.hub.cluster_secrets(&namespace).await?;
    // `argocd cluster rm` leaves this tool's Secrets without their secret-type label: they
    // can still be removed, with the identity and access they used.
    for secret in ports.hub.unregistered_secrets(&namespace).await? {
        if !secrets.iter().any(|s| s.name == secret.name) {
            secrets.push(secret);
        }
    }
    let registrations = eks_registrations(&secrets);
    let removing: Vec<String> = named(&registrations, clusters, &namespace)?
        .into_iter()
        .map(|r| r.secret.clone())
        .collect();

    let observed = observe(
        &ports,
        settings,
        default_region,
        &namespace,
        registrations,
        &removing,
    )
    .await?;
    let plan = plan_removal(&observed, &removing);
    show(out, settings.output, &plan)?;
    let (outcome, steps) = match settings.dry_run {
        DryRun::Client => (Outcome::DryRunClient, Progress::default()),
        DryRun::Server => match apply(&ports, &plan, Write::ServerDryRun).await? {
            Ok(progress) => (Outcome::DryRunServer, progress),
            Err((_, error)) => return Err(error),
        },
        DryRun::None => {
            if !settings.yes && !ports.prompt.confirm("Remove these?")? {
                return Err(Error::Cancelled);
            }
            match apply(&ports, &plan, Write::Real).await? {
                Ok(progress) => {
                    verify(&ports, &plan).await?;
                    (Outcome::Applied, progress)
                }
                Err((steps, error)) => {
                    let report = RemoveReport {
                        plan: &plan,
                        outcome: Outcome::Failed,
                        steps,
                    };
                    emit(out, settings.output, &report)?;
                    return Err(error);
                }
            }
        }
    };
    emit(
        out,
        settings.output,
        &RemoveReport {
            plan: &plan,
            outcome,
            steps,
        },
    )
}

/// The RBAC the plan's Kubernetes writes need, checked before anything is written.
async fn check_hub_permissions<H: HubRead>(hub: &H, plan: &RemovalPlan) -> Result<()> {
    let mut needed = BTreeSet::new();
    for action in plan.deletes() {
        match &action.step {
            RemovalStep::DeleteSecret { .. } => {
                // Unregistered first (a patch) when anything else goes too: see `writes`.
                needed.insert(("patch", "secrets"));
                needed.insert(("delete", "secrets"))
            }
            RemovalStep::RemoveServiceAccountAnnotation { .. } => {
                needed.insert(("patch", "serviceaccounts"))
            }
            _ => false,
        };
    }
    require_rbac(
        hub,
        &plan.namespace,
        needed.into_iter().map(|(verb, resource)| (verb, "", resource)),
        "Nothing was changed. Ask a cluster admin for that RBAC (kubectl auth can-i shows what you may do)".to_owned(),
    )
    .await
}

/// One write of a removal as it is made.
enum RemovalWrite<'a> {
    /// Take the Secret's `argocd.argoproj.io/secret-type` label off: Argo CD stops using it
    /// (as `argocd cluster rm` does) while the Secret stays, so that a run that stops before
    /// the end can be found and finished by the same command (remove finds such Secrets).
    Unregister {
        namespace: &'a str,
        name: &'a str,
    },
    Delete(&'a RemovalStep),
}

/// The plan's deletes in the order they are made: when anything goes besides the Secrets,
/// the Secrets are unregistered first, the rest is deleted, and the Secrets go last.
fn writes(plan: &RemovalPlan) -> Vec<(String, &'static str, RemovalWrite<'_>)> {
    let deletes: Vec<&RemovalStep> = plan.deletes().map(|a| &a.step).collect();
    let secrets = || {
        deletes
            .iter()
            .copied()
            .filter(|s| matches!(s, RemovalStep::DeleteSecret { .. }))
    };
    let others = || {
        deletes
            .iter()
            .copied()
            .filter(|s| !matches!(s, RemovalStep::DeleteSecret { .. }))
    };
    let mut order = Vec::with_capacity(deletes.len() * 2);
    if others().next().is_some() {
        for step in secrets() {
            if let RemovalStep::DeleteSecret { namespace, name } = step {
                order.push((
                    step.subject(),
                    "unregister",
                    RemovalWrite::Unregister { namespace, name },
                ));
            }
        }
    }
    order.extend(others().map(|step| (step.subject(), "delete", RemovalWrite::Delete(step))));
    order.extend(secrets().map(|step| (step.subject(), "delete", RemovalWrite::Delete(step))));
    order
}

/// The RBAC review, then the plan's deletes ([`writes`]); writes only. AWS has no dry run: on
/// a server dry run only the Kubernetes writes are sent. Stops at the first failed write: what
/// was deleted stays deleted, and running the same command again deletes what is left.
async fn apply<H: HubRead + HubWrite, A: EksWrite, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    plan: &RemovalPlan,
    write: Write,
) -> Result<Result<Progress, (Progress, Error)>> {
    check_hub_permissions(ports.hub, plan).await?;
    let order = writes(plan);
    let mut progress = Progress::planned(
        order
            .iter()
            .map(|(subject, change, _)| (subject.clone(), (*change).to_owned())),
    );
    for (index, (_, _, step)) in order.iter().enumerate() {
        let result = match step {
            RemovalWrite::Unregister { namespace, name } => {
                ports.hub.unregister_secret(namespace, name, write).await
            }
            RemovalWrite::Delete(step) => delete(ports, step, write).await,
        };
        match result {
            Ok(true) => progress.mark(index, StepStatus::Done, None),
            Ok(false) => progress.mark(
                index,
                StepStatus::AlreadyDone,
                Some("already gone: someone else deleted it meanwhile".into()),
            ),
            Err(error) => {
                progress.mark(index, StepStatus::Failed, Some(error.to_string()));
                return Ok(Err((progress, error)));
            }
        }
    }
    Ok(Ok(progress))
}

/// One delete: true when it deleted something, false when it was already gone.
async fn delete<H: HubWrite, A: EksWrite, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    step: &RemovalStep,
    write: Write,
) -> Result<bool> {
    match step {
        RemovalStep::DeleteSecret { namespace, name } => {
            ports.hub.delete_secret(namespace, name, write).await
        }
        RemovalStep::RemoveServiceAccountAnnotation {
            service_account, ..
        } => {
            ports
                .hub
                .remove_service_account_annotation(service_account, IRSA_ANNOTATION, write)
                .await?;
            Ok(true)
        }
        _ if write == Write::ServerDryRun => Ok(true),
        RemovalStep::DeletePodIdentityAssociation {
            hub_cluster,
            association_id,
            ..
        } => {
            ports
                .accounts
                .own()
                .delete_pod_identity_association(hub_cluster, association_id)
                .await
        }
        RemovalStep::DeleteAccessEntry {
            cluster,
            principal_arn,
        } => {
            ports
                .accounts
                .for_account(&cluster.account)
                .delete_access_entry(cluster, principal_arn)
                .await
        }
    }
}

/// Read back: everything deleted must be gone (an annotation may stay only when someone else
/// also owns it, and then it is no longer ours).
async fn verify<H: HubRead, A: EksRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    plan: &RemovalPlan,
) -> Result<()> {
    let namespace = &plan.namespace;
    let mut left = Vec::new();
    let mut owned = None;
    let mut associations = None;
    for action in plan.deletes() {
        let still_there = match &action.step {
            RemovalStep::DeleteSecret { namespace, name } => {
                ports.hub.secret(namespace, name).await?.is_some()
            }
            RemovalStep::RemoveServiceAccountAnnotation {
                service_account, ..
            } => {
                if owned.is_none() {
                    owned = Some(
                        ports
                            .hub
                            .owned_service_account_annotations(namespace)
                            .await?,
                    );
                }
                owned
                    .as_ref()
                    .and_then(|o| o.get(&service_account.name))
                    .is_some_and(|keys| keys.iter().any(|k| k == IRSA_ANNOTATION))
            }
            RemovalStep::DeletePodIdentityAssociation {
                hub_cluster,
                association_id,
                ..
            } => {
                if associations.is_none() {
                    associations = Some(
                        ports
                            .accounts
                            .own()
                            .pod_identity_associations(hub_cluster, namespace)
                            .await?,
                    );
                }
                associations
                    .as_ref()
                    .is_some_and(|all| all.iter().any(|a| a.id == *association_id))
            }
            RemovalStep::DeleteAccessEntry {
                cluster,
                principal_arn,
            } => ports
                .accounts
                .for_account(&cluster.account)
                .access_entry_tags(cluster, principal_arn)
                .await?
                .is_some(),
        };
        if still_there {
            left.push(action.step.subject());
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(Error::VerifyFailed {
            what: left.join("; "),
            detail: "it is still there after the delete".into(),
        })
    }
}

#[cfg(test)]
mod tests;
