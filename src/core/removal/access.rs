//! `remove`'s decisions about target access: one per (cluster, principal), kept while another
//! registration still reaches that cluster with that principal.

use super::{
    EntryState, ObservedRemoval, ObservedTarget, Removal, RemovalAction, RemovalStep, TAG_MISSING,
    management_role, still_needed,
};
use crate::core::model::ClusterArn;
use crate::core::registration::{EksRegistration, Format};

/// Step 2: target access, one decision per (cluster, principal).
pub(super) fn access_entry_actions(
    observed: &ObservedRemoval,
    remaining: &[&EksRegistration],
    notes: &mut Vec<String>,
) -> Vec<RemovalAction> {
    let management = management_role(&observed.service_accounts, &observed.associations);
    let mut actions = Vec::new();
    let mut seen: Vec<(ClusterArn, String)> = Vec::new();
    for (secret, target) in &observed.targets {
        let (cluster, endpoint, principal, entry) = match target {
            ObservedTarget::NotChecked(why) => {
                notes.push(format!("{secret}: {why}"));
                continue;
            }
            ObservedTarget::Found {
                cluster,
                endpoint,
                principal,
                entry,
            } => (cluster, endpoint, principal, entry),
        };
        let key = (cluster.clone(), principal.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let users = entry_users(
            observed,
            remaining,
            management.as_deref(),
            (cluster, endpoint),
            principal,
        );
        actions.extend(entry_decision(
            observed, cluster, principal, entry, &users, notes,
        ));
    }
    actions
}

/// The registrations left that reach `cluster` as `principal`, here and in the hub's other
/// namespaces (their roleARN, or in direct mode their own management role; when that could
/// not be read, a direct-mode registration counts as a user).
fn entry_users<'a>(
    observed: &'a ObservedRemoval,
    remaining: &[&'a EksRegistration],
    management: Option<&str>,
    (cluster, endpoint): (&ClusterArn, &str),
    principal: &str,
) -> Vec<&'a EksRegistration> {
    let mut users: Vec<&EksRegistration> = remaining
        .iter()
        .copied()
        .filter(|r| {
            r.reaches(cluster, endpoint) && r.principal(management).as_deref() == Some(principal)
        })
        .collect();
    users.extend(observed.elsewhere.iter().filter(|r| {
        let uses_principal = match (&r.role_arn, observed.elsewhere_management.get(&r.namespace)) {
            (Some(role), _) | (None, Some(Some(role))) => role == principal,
            (None, Some(None)) => false,
            (None, None) => true,
        };
        r.format == Format::AwsAuth && r.reaches(cluster, endpoint) && uses_principal
    }));
    users
}

/// Delete the access entry when this tool made it and nothing else uses it; else keep it and
/// say why (or, for an aws-auth cluster, say what to remove by hand).
fn entry_decision(
    observed: &ObservedRemoval,
    cluster: &ClusterArn,
    principal: &str,
    entry: &EntryState,
    users: &[&EksRegistration],
    notes: &mut Vec<String>,
) -> Option<RemovalAction> {
    let step = RemovalStep::DeleteAccessEntry {
        cluster: cluster.clone(),
        principal_arn: principal.to_owned(),
    };
    let action = |change, detail: String| RemovalAction {
        change,
        step: step.clone(),
        detail,
    };
    match entry {
        EntryState::Absent => None,
        EntryState::ConfigMap => {
            if users.is_empty() {
                notes.push(format!(
                    "{cluster} reads only the aws-auth ConfigMap: if nothing else uses {principal} there, remove its mapRoles entry by hand (kubectl -n kube-system edit configmap aws-auth on that cluster)"
                ));
            }
            None
        }
        EntryState::Present { .. } if !users.is_empty() => {
            Some(action(Removal::Keep, still_needed(users)))
        }
        EntryState::Present { ours: false } => Some(action(Removal::Keep, TAG_MISSING.to_owned())),
        EntryState::Present { ours: true } => {
            if let Some(why) = &observed.elsewhere_unchecked {
                notes.push(format!(
                    "cluster Secrets in other namespaces were not checked ({why}): an Argo CD elsewhere on this hub that reaches {} as {principal} loses that access",
                    cluster.name
                ));
            }
            Some(action(
                Removal::Delete,
                "created by kubectl-argocd-eks; no other registration uses it".to_owned(),
            ))
        }
    }
}
