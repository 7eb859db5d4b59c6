//! `add`'s writes: the RBAC review before them, then the plan's writes in order and the
//! restart of Argo CD's workloads.

use std::collections::BTreeSet;

use crate::commands::{Ports, require_rbac};
use crate::core::action::{Change, Step};
use crate::core::model::{IRSA_ANNOTATION, ObservedServiceAccount};
use crate::core::plan::Plan;
use crate::core::secret::ObservedSecret;
use crate::error::Result;
use crate::ports::{EksWrite, HubRead, HubWrite, Prompt, Workload, WorkloadKind, Write};

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

/// What the hub's server-side applies answered: the objects as the server stored them, which
/// serve as the read-back (no list after the writes).
#[derive(Debug, Default)]
pub(super) struct Written {
    pub(super) secrets: Vec<ObservedSecret>,
    pub(super) service_accounts: Vec<ObservedServiceAccount>,
}

/// Make the plan's writes in its order (identity, target access, Secrets), then restart
/// Argo CD's workloads when asked; writes only. Returns the restarted workloads and what the
/// hub stored.
pub(super) async fn apply<H: HubRead + HubWrite, E: EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    plan: &Plan,
    restart: bool,
    write: Write,
) -> Result<(Vec<String>, Written)> {
    check_hub_permissions(ports.hub, plan, restart).await?;
    let hub_eks = ports.accounts.own();
    let mut written = Written::default();
    for action in plan.writes() {
        match &action.step {
            Step::ApplySecret { secret } => {
                written
                    .secrets
                    .push(ports.hub.apply_secret(secret, write).await?);
            }
            Step::AnnotateServiceAccount {
                service_account,
                role_arn,
            } => {
                let stored = ports
                    .hub
                    .annotate_service_account(
                        service_account,
                        IRSA_ANNOTATION,
                        &role_arn.to_string(),
                        write,
                    )
                    .await?;
                written.service_accounts.push(stored);
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
        return Ok((Vec::new(), written));
    }
    let namespace = plan
        .actions
        .iter()
        .find_map(|a| match &a.step {
            Step::ApplySecret { secret } => Some(secret.namespace.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let restarted = ports
        .hub
        .restart_workloads(&namespace, &ARGOCD_WORKLOADS, write)
        .await?;
    Ok((restarted, written))
}
