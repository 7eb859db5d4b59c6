//! `remove`'s decisions about Argo CD's identity: pod identity associations and IRSA
//! annotations, kept while any remaining registration still needs the management role.

use super::{ObservedRemoval, Removal, RemovalAction, RemovalStep, TAG_MISSING, still_needed};
use crate::core::model::{ARGOCD_SERVICE_ACCOUNTS, SaRef};
use crate::core::registration::EksRegistration;

/// Step 3: Argo CD's pod identity associations, in service account order.
pub(super) fn association_actions(
    observed: &ObservedRemoval,
    needing: &[&EksRegistration],
) -> Vec<RemovalAction> {
    let Some(hub_cluster) = &observed.hub_cluster else {
        return Vec::new();
    };
    let in_sa_order = ARGOCD_SERVICE_ACCOUNTS.iter().flat_map(|(name, _)| {
        observed
            .associations
            .iter()
            .filter(move |a| a.association.service_account.name == *name)
    });
    in_sa_order
        .filter(|observed_association| {
            observed_association.association.service_account.namespace == observed.namespace
        })
        .map(|observed_association| {
            let association = &observed_association.association;
            let (change, detail) = if !needing.is_empty() {
                (Removal::Keep, still_needed(needing))
            } else if !observed_association.ours {
                (Removal::Keep, TAG_MISSING.to_owned())
            } else {
                (
                    Removal::Delete,
                    format!(
                        "{}, role {}; no registration needs Argo CD's identity any more",
                        association.id, association.role_arn
                    ),
                )
            };
            RemovalAction {
                change,
                detail,
                step: RemovalStep::DeletePodIdentityAssociation {
                    hub_cluster: hub_cluster.clone(),
                    association_id: association.id.clone(),
                    service_account: association.service_account.clone(),
                    role_arn: association.role_arn.clone(),
                },
            }
        })
        .collect()
}

/// Step 4: the IRSA annotations on Argo CD's service accounts.
pub(super) fn annotation_actions(
    observed: &ObservedRemoval,
    needing: &[&EksRegistration],
) -> Vec<RemovalAction> {
    let mut actions = Vec::new();
    for (name, _) in ARGOCD_SERVICE_ACCOUNTS {
        let Some(sa) = observed.service_accounts.iter().find(|sa| sa.name == name) else {
            continue;
        };
        let Some(role) = &sa.irsa_role else {
            continue;
        };
        let (change, detail) = if !needing.is_empty() {
            (Removal::Keep, still_needed(needing))
        } else if !sa.annotation_ours {
            (
                Removal::Keep,
                "set by someone else, not by kubectl-argocd-eks (its field manager does not own it)"
                    .to_owned(),
            )
        } else {
            (
                Removal::Delete,
                format!("{role}; no registration needs Argo CD's identity any more"),
            )
        };
        actions.push(RemovalAction {
            change,
            detail,
            step: RemovalStep::RemoveServiceAccountAnnotation {
                service_account: SaRef::new(&observed.namespace, name),
                role_arn: role.clone(),
            },
        });
    }
    actions
}
