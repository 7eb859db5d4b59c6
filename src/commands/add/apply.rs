//! `add`'s writes: the RBAC review before them, then the plan's writes in order and the
//! restart of Argo CD's workloads, recording what became of each (done, already done by
//! someone else, failed, not done) so a run that stops part way says so.

use std::collections::BTreeSet;

use super::read_back::read_back;
use super::restart::restart_workloads;
use crate::commands::{Ports, require_rbac};
use crate::core::action::{Action, Change, Step};
use crate::core::model::IRSA_ANNOTATION;
use crate::core::model::ObservedServiceAccount;
use crate::core::plan::Plan;
use crate::core::progress::{Progress, StepStatus};
use crate::core::rbac::RulesReview;
use crate::core::secret::ObservedSecret;
use crate::error::{Error, Result};
use crate::ports::{Annotation, EksRead, EksWrite, HubRead, HubWrite, Prompt, Write};

/// The RBAC the plan's Kubernetes writes need, checked before anything is written.
/// (`review`: the rules review of Argo CD's namespace when already read).
async fn check_hub_permissions<H: HubRead>(
    hub: &H,
    plan: &Plan,
    restart: bool,
    review: Option<RulesReview>,
) -> Result<()> {
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
        review,
    )
    .await
}

/// What the writes did: each step's record, the workloads restarted, and what the hub
/// answered to its writes.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) progress: Progress,
    pub(super) restarted: Vec<String>,
    pub(super) answers: HubAnswers,
}

/// The hub's objects as its answers to this run's server-side applies show them: the
/// read-back of what was written, with no list after the writes.
#[derive(Debug, Default)]
pub(super) struct HubAnswers {
    pub(super) secrets: Vec<ObservedSecret>,
    pub(super) service_accounts: Vec<ObservedServiceAccount>,
    /// A hub write ended without an answer of its own (refused as there already, then read
    /// back): the read-back lists the hub again.
    pub(super) partial: bool,
}

impl HubAnswers {
    fn record(&mut self, answer: Option<HubAnswer>) {
        match answer {
            Some(HubAnswer::Secret(secret)) => self.secrets.push(secret),
            Some(HubAnswer::ServiceAccount(sa)) => self.service_accounts.push(sa),
            None => {}
        }
    }
}

/// One hub write's answer: the object as the server has it after the write.
pub(super) enum HubAnswer {
    Secret(ObservedSecret),
    ServiceAccount(ObservedServiceAccount),
}

/// A run that stopped at a failed write: what was done before it, and the write's error.
#[derive(Debug)]
pub(super) struct Stopped {
    pub(super) applied: Applied,
    pub(super) error: Error,
}

/// How one write ended when it did not fail.
pub(super) enum Wrote {
    /// Written; a hub write carries the server's answer.
    Done(Option<HubAnswer>),
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
    review: Option<RulesReview>,
) -> Result<Result<Applied, Stopped>> {
    check_hub_permissions(ports.hub, plan, restart, review).await?;
    Ok(write_all(ports, plan, restart, write).await)
}

/// The plan's writes in the groups they are sent in: each a run of consecutive writes that
/// depend on none of each other (the annotations of Argo CD's service accounts), else one.
fn groups(writes: &[&Action]) -> Vec<std::ops::Range<usize>> {
    let together = |a: &Action, b: &Action| {
        matches!(
            (&a.step, &b.step),
            (
                Step::AnnotateServiceAccount { .. },
                Step::AnnotateServiceAccount { .. }
            )
        )
    };
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    for (index, action) in writes.iter().enumerate() {
        match groups.last_mut() {
            Some(group) if together(writes[group.start], action) => group.end = index + 1,
            _ => groups.push(index..index + 1),
        }
    }
    groups
}

/// Make the plan's writes in its order (identity, target access, Secrets), the independent
/// ones of a group at once, then restart Argo CD's workloads when asked; writes only (and
/// read-backs of a write refused as already made). Stops after the group with the first
/// failed write: what was done stays, the rest is `not done`, and running the same command
/// again plans from what is there and makes only what is missing.
pub(super) async fn write_all<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    plan: &Plan,
    restart: bool,
    write: Write,
) -> Result<Applied, Stopped> {
    let mut applied = Applied {
        progress: planned(plan),
        ..Applied::default()
    };
    ports.prompt.writes_begin();
    let writes: Vec<&Action> = plan.writes().collect();
    for group in groups(&writes) {
        // Ctrl-C: stop before the next group; the progress says what was and was not written.
        if ports.prompt.interrupted() {
            return Err(Stopped {
                applied,
                error: Error::Interrupted,
            });
        }
        let results = futures::future::join_all(
            group
                .clone()
                .map(|index| write_step(ports, &writes[index].step, write)),
        )
        .await;
        let mut failed = None;
        for (index, result) in group.zip(results) {
            match result {
                Ok(Wrote::Done(answer)) => {
                    applied.answers.record(answer);
                    applied.progress.mark(index, StepStatus::Done, None);
                }
                Ok(Wrote::AlreadyDone(who)) => {
                    applied.answers.partial |= writes[index].step.is_hub_write();
                    applied
                        .progress
                        .mark(index, StepStatus::AlreadyDone, Some(who));
                }
                Err(error) => {
                    applied
                        .progress
                        .mark(index, StepStatus::Failed, Some(error.to_string()));
                    failed.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failed {
            return Err(Stopped { applied, error });
        }
    }
    if !restart {
        return Ok(applied);
    }
    if ports.prompt.interrupted() {
        applied.progress.push(
            "Argo CD's workloads".to_owned(),
            "restart",
            StepStatus::NotDone,
        );
        return Err(Stopped {
            applied,
            error: Error::Interrupted,
        });
    }
    let namespace = plan
        .actions
        .iter()
        .find_map(|a| match &a.step {
            Step::ApplySecret { secret } => Some(secret.namespace.clone()),
            _ => None,
        })
        .unwrap_or_default();
    restart_workloads(ports.hub, &namespace, applied, write).await
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
        Step::ApplySecret { secret } => ports
            .hub
            .apply_secret(secret, write)
            .await
            .map(|answer| Some(HubAnswer::Secret(answer))),
        Step::AnnotateServiceAccount {
            service_account,
            role_arn,
            previous,
            resource_version,
        } => {
            let role = role_arn.to_string();
            let annotation = Annotation {
                key: IRSA_ANNOTATION,
                value: &role,
                expected: previous.as_deref(),
            };
            ports
                .hub
                .annotate_service_account(
                    service_account,
                    annotation,
                    resource_version.as_deref(),
                    write,
                )
                .await
                .map(|answer| Some(HubAnswer::ServiceAccount(answer)))
        }
        // AWS has no dry run: on a server dry run only Kubernetes writes are sent.
        _ if write == Write::ServerDryRun => Ok(None),
        Step::CreatePodIdentityAssociation {
            hub_cluster,
            service_account,
            role_arn,
            target_role_arn,
        } => hub_eks
            .create_pod_identity_association(
                hub_cluster,
                service_account,
                role_arn,
                target_role_arn.as_ref(),
            )
            .await
            .map(|()| None),
        Step::UpdatePodIdentityAssociation {
            hub_cluster,
            association_id,
            role_arn,
            target_role_arn,
            ..
        } => hub_eks
            .update_pod_identity_association(
                hub_cluster,
                association_id,
                role_arn,
                target_role_arn.as_ref(),
            )
            .await
            .map(|()| None),
        Step::CreateAccessEntry {
            cluster,
            principal_arn,
        } => ports
            .accounts
            .for_account(&cluster.account)
            .create_access_entry(cluster, principal_arn)
            .await
            .map(|()| None),
        Step::AssociateAccessPolicy {
            cluster,
            principal_arn,
            policy_arn,
            scope,
        } => ports
            .accounts
            .for_account(&cluster.account)
            .associate_access_policy(cluster, principal_arn, policy_arn, scope)
            .await
            .map(|()| None),
    };
    match result {
        Ok(answer) => Ok(Wrote::Done(answer)),
        Err(error @ Error::Conflict { .. }) => read_back(ports, step, error).await,
        Err(error) => Err(error),
    }
}
