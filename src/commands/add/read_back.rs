//! A create refused because the object is there already (EKS ResourceInUseException,
//! Kubernetes 409), read back: as this run wants it, it was already done by someone else (another
//! run at the same time); otherwise it is a conflict that names what is there, left as it is.

use super::apply::Wrote;
use crate::commands::Ports;
use crate::core::action::Step;
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubRead, Prompt};

/// After a write refused as conflicting: what is there now, compared with what `step` wants.
pub(super) async fn read_back<H: HubRead, E: EksRead, P: Prompt>(
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
            ..
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
