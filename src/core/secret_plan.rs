//! The plan's action for one cluster Secret: never two Secrets for one server. Without
//! `--secret-name` the Secret that already holds the server is updated in place when it is
//! this tool's or Argo CD's own (`argocd cluster add`); any other holder is named and refused.

use super::action::{Action, Change, Step};
use super::model::IdentityMode;
use super::plan::{HubIdentity, Observed, PlanError, Registration};
use super::secret::{
    ObservedSecret, desired_capability_secret, desired_secret, secret_differences,
};

/// `this_run`: the names of every Secret this plan writes (they are no one else's).
pub(super) fn secret_action(
    identity: &HubIdentity,
    registration: &Registration,
    observed: &Observed,
    this_run: &[String],
) -> Result<(Action, Option<String>), PlanError> {
    let desired = match identity.mode {
        IdentityMode::Capability => {
            desired_capability_secret(&registration.cluster, &registration.secret)
        }
        IdentityMode::Irsa | IdentityMode::PodIdentity => desired_secret(
            &registration.cluster,
            registration.target_role.as_ref(),
            &registration.secret,
        ),
    };
    let mut desired = desired;
    let server = desired.data["server"].clone();
    // Argo CD keeps one cluster per server: never a second Secret for it.
    let holders: Vec<&ObservedSecret> = observed
        .secrets
        .iter()
        .filter(|secret| {
            secret.name != desired.name
                && !this_run.contains(&secret.name)
                && secret.server() == Some(server.as_str())
        })
        .collect();
    let at_name = observed.secrets.iter().any(|s| s.name == desired.name);
    let mut note = None;
    match holders.as_slice() {
        [] => {}
        // No name asked for: update ours, or the one `argocd cluster add` made, in place.
        [one]
            if registration.secret.secret_name.is_none()
                && !at_name
                && (one.managed_by_us() || one.made_by_argocd()) =>
        {
            desired.name = one.name.clone();
            // Applications may name the cluster: keep its Argo CD name unless --name says.
            if registration.secret.display_name.is_none()
                && let Some(name) = one.data.get("name")
            {
                desired.data.insert("name".to_owned(), name.clone());
            }
            if !one.managed_by_us() {
                note = Some(format!(
                    "Secret {}/{} was made by argocd cluster add: it is updated in place to use AWS authentication (its bearer token goes); the ServiceAccount kube-system/argocd-manager, ClusterRole argocd-manager-role and ClusterRoleBinding argocd-manager-role-binding that argocd cluster add created on {} are no longer used: delete them there when nothing else needs them",
                    one.namespace, one.name, registration.cluster.arn.name
                ));
            }
        }
        [one] if registration.secret.secret_name.is_none() && !at_name => {
            return Err(PlanError::AlreadyRegistered {
                cluster: registration.cluster.arn.to_string(),
                namespace: one.namespace.clone(),
                name: one.name.clone(),
            });
        }
        several => {
            return Err(PlanError::ServerTaken {
                cluster: registration.cluster.arn.to_string(),
                server: server.clone(),
                namespace: desired.namespace.clone(),
                wanted: desired.name.clone(),
                holders: several.iter().map(|s| s.name.clone()).collect(),
            });
        }
    }
    let existing = observed
        .secrets
        .iter()
        .find(|secret| secret.name == desired.name);
    let (change, detail) = match existing {
        None => (Change::Create, format!("server {server}")),
        Some(current) if !current.managed_by_us() && current.server() != Some(server.as_str()) => {
            return Err(PlanError::SecretNameTaken {
                namespace: current.namespace.clone(),
                name: current.name.clone(),
                server: current.server().unwrap_or("none").to_owned(),
            });
        }
        Some(current) => {
            let differences = secret_differences(&desired, current).join(", ");
            if differences.is_empty() {
                (Change::Unchanged, "up to date".to_owned())
            } else if current.managed_by_us() {
                (Change::Update, differences)
            } else if current.made_by_argocd() {
                (
                    Change::Update,
                    format!("update the Secret argocd cluster add made: {differences}"),
                )
            } else {
                (
                    Change::Update,
                    format!("adopt a hand-made Secret: {differences}"),
                )
            }
        }
    };
    Ok((
        Action {
            change,
            detail,
            step: Step::ApplySecret { secret: desired },
        },
        note,
    ))
}
