//! Restarting Argo CD's workloads after `add` changed their identity (`--restart`), or on a
//! later run whose pods still predate the identity's last change.

use crate::commands::require_rbac;
use crate::core::progress::StepStatus;
use crate::error::Result;
use crate::ports::{HubRead, HubWrite, Workload, WorkloadKind, Write};

use super::apply::{Applied, Stopped};

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

/// `kubectl rollout restart` of Argo CD's workloads, recorded after the writes.
pub(super) async fn restart_workloads<H: HubWrite>(
    hub: &H,
    namespace: &str,
    mut applied: Applied,
    write: Write,
) -> Result<Applied, Stopped> {
    match hub
        .restart_workloads(namespace, &ARGOCD_WORKLOADS, write)
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

/// `--restart` on a run with nothing to write: restart Argo CD's workloads when their pods were
/// last rolled before the identity last changed (`identity_changed_at`), as after a run whose
/// restart failed or was not asked for; else nothing.
pub(super) async fn restart_if_stale<H: HubRead + HubWrite>(
    hub: &H,
    namespace: &str,
    identity_changed_at: Option<i64>,
) -> Result<Result<Applied, Stopped>> {
    let Some(changed) = identity_changed_at else {
        return Ok(Ok(Applied::default()));
    };
    let rolled = hub
        .workloads_restarted_at(namespace, &ARGOCD_WORKLOADS)
        .await?;
    if rolled.iter().all(|(_, at)| *at >= changed) {
        return Ok(Ok(Applied::default()));
    }
    require_rbac(
        hub,
        namespace,
        [
            ("patch", "apps", "statefulsets"),
            ("patch", "apps", "deployments"),
        ],
        format!(
            "Nothing was changed. Ask a cluster admin for that RBAC, or restart them yourself: {}",
            crate::cli::output::restart_command(namespace)
        ),
        None,
    )
    .await?;
    Ok(restart_workloads(hub, namespace, Applied::default(), Write::Real).await)
}
