//! `remove`'s plan: which Secrets, identities and access entries go, and why the others stay.
//! Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::model::{ClusterArn, IRSA_ANNOTATION, PodIdentityAssociation, SaRef};
use super::registration::EksRegistration;

mod access;
mod identity;

use access::access_entry_actions;
use identity::{annotation_actions, association_actions};

/// One of Argo CD's service accounts and its IRSA annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceAccountIdentity {
    pub(crate) name: String,
    pub(crate) irsa_role: Option<String>,
    /// The annotation is owned by this tool's field manager (server-side apply).
    pub(crate) annotation_ours: bool,
}

/// A pod identity association for one of Argo CD's service accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObservedAssociation {
    pub(crate) association: PodIdentityAssociation,
    /// It carries the tag `app.kubernetes.io/managed-by=kubectl-argocd-eks`.
    pub(crate) ours: bool,
}

/// The management role Argo CD's pods run as: the IRSA annotation (AWS SDKs prefer it when both
/// are set), else the pod identity association.
pub(crate) fn management_role(
    service_accounts: &[ServiceAccountIdentity],
    associations: &[ObservedAssociation],
) -> Option<String> {
    service_accounts
        .iter()
        .find_map(|sa| sa.irsa_role.clone())
        .or_else(|| {
            associations
                .iter()
                .map(|a| a.association.role_arn.clone())
                .next()
        })
}

/// What the target says about the access entry of the principal that reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// The entry exists; `ours` when it carries this tool's managed-by tag.
    Present {
        ours: bool,
    },
    Absent,
    /// The cluster reads only the aws-auth ConfigMap.
    ConfigMap,
}

/// A removed registration's target, as observed: the cluster and its access entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObservedTarget {
    Found {
        cluster: ClusterArn,
        endpoint: String,
        principal: String,
        entry: EntryState,
    },
    /// Nothing to look at or it could not be looked at; the text says why.
    NotChecked(String),
}

/// Everything `remove` read before planning.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObservedRemoval {
    pub(crate) namespace: String,
    /// Every EKS registration in the namespace.
    pub(crate) registrations: Vec<EksRegistration>,
    /// Argo CD's service accounts that exist.
    pub(crate) service_accounts: Vec<ServiceAccountIdentity>,
    /// The hub's EKS cluster, when known; pod identity associations live there.
    pub(crate) hub_cluster: Option<ClusterArn>,
    /// Associations for Argo CD's service accounts.
    pub(crate) associations: Vec<ObservedAssociation>,
    /// Why associations were not looked at, if they were not.
    pub(crate) associations_unchecked: Option<String>,
    /// Per removed Secret (by name), its target.
    pub(crate) targets: Vec<(String, ObservedTarget)>,
    /// EKS registrations in the hub's other namespaces (other Argo CD instances may share a
    /// target's access entry).
    pub(crate) elsewhere: Vec<EksRegistration>,
    /// Why other namespaces were not looked at, if they were not.
    pub(crate) elsewhere_unchecked: Option<String>,
    /// The management role of other namespaces' Argo CD (None: it has no AWS identity), where
    /// it was read, for their direct-mode registrations; a direct-mode registration in a
    /// namespace not read counts as a user of the entry.
    pub(crate) elsewhere_management: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Removal {
    Delete,
    Keep,
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Removal::Delete => "delete",
            Removal::Keep => "keep",
        })
    }
}

/// One object `remove` deletes, or keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum RemovalStep {
    DeleteSecret {
        namespace: String,
        name: String,
    },
    /// Server-side apply of the service account without the IRSA annotation.
    RemoveServiceAccountAnnotation {
        service_account: SaRef,
        role_arn: String,
    },
    DeletePodIdentityAssociation {
        hub_cluster: ClusterArn,
        association_id: String,
        service_account: SaRef,
        role_arn: String,
    },
    DeleteAccessEntry {
        cluster: ClusterArn,
        principal_arn: String,
    },
}

impl RemovalStep {
    pub(crate) fn subject(&self) -> String {
        match self {
            RemovalStep::DeleteSecret { namespace, name } => format!("Secret {namespace}/{name}"),
            RemovalStep::RemoveServiceAccountAnnotation {
                service_account, ..
            } => format!("ServiceAccount {service_account} annotation {IRSA_ANNOTATION}"),
            RemovalStep::DeletePodIdentityAssociation {
                hub_cluster,
                service_account,
                ..
            } => format!(
                "PodIdentityAssociation {service_account} on EKS cluster {}",
                hub_cluster.name
            ),
            RemovalStep::DeleteAccessEntry {
                cluster,
                principal_arn,
            } => format!(
                "AccessEntry {principal_arn} on EKS cluster {}",
                cluster.name
            ),
        }
    }

    /// Whether Argo CD's pods lose an identity with this step.
    pub(crate) fn changes_identity(&self) -> bool {
        matches!(
            self,
            RemovalStep::RemoveServiceAccountAnnotation { .. }
                | RemovalStep::DeletePodIdentityAssociation { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RemovalAction {
    pub(crate) change: Removal,
    pub(crate) step: RemovalStep,
    /// Why it goes, or why it stays.
    pub(crate) detail: String,
}

/// Everything `remove` would do, in order: the Secrets first (Argo CD stops using the
/// clusters), then target access, then Argo CD's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RemovalPlan {
    pub(crate) namespace: String,
    /// The removed registrations' Secret names.
    pub(crate) secrets: Vec<String>,
    pub(crate) actions: Vec<RemovalAction>,
    pub(crate) notes: Vec<String>,
}

impl RemovalPlan {
    pub(crate) fn deletes(&self) -> impl Iterator<Item = &RemovalAction> {
        self.actions.iter().filter(|a| a.change == Removal::Delete)
    }
}

const TAG_MISSING: &str =
    "not created by kubectl-argocd-eks (no app.kubernetes.io/managed-by=kubectl-argocd-eks tag)";

fn still_needed(by: &[&EksRegistration]) -> String {
    const SHOWN: usize = 3;
    let mut names: Vec<String> = by
        .iter()
        .take(SHOWN)
        .map(|r| format!("{}/{}", r.namespace, r.secret))
        .collect();
    if by.len() > SHOWN {
        names.push(format!("{} more", by.len() - SHOWN));
    }
    let noun = if by.len() == 1 { "Secret" } else { "Secrets" };
    format!("still needed by {noun} {}", names.join(", "))
}

/// Plan the removal of the registrations whose Secrets are `removing`. Pure: no I/O.
pub(crate) fn plan_removal(observed: &ObservedRemoval, removing: &[String]) -> RemovalPlan {
    let mut notes = Vec::new();
    let remaining: Vec<&EksRegistration> = observed
        .registrations
        .iter()
        .filter(|r| !removing.contains(&r.secret))
        .collect();
    let mut actions = secret_actions(observed, removing);
    actions.extend(access_entry_actions(observed, &remaining, &mut notes));
    // Argo CD's identity: only when no remaining registration needs it.
    let needing: Vec<&EksRegistration> = remaining
        .iter()
        .copied()
        .filter(|r| r.uses_argocd_identity())
        .collect();
    actions.extend(association_actions(observed, &needing));
    actions.extend(annotation_actions(observed, &needing));
    if needing.is_empty()
        && let Some(why) = &observed.associations_unchecked
    {
        notes.push(format!(
            "pod identity associations were not checked ({why}); if Argo CD used pod identity, remove them with aws eks delete-pod-identity-association"
        ));
    }
    RemovalPlan {
        namespace: observed.namespace.clone(),
        secrets: removing.to_vec(),
        actions,
        notes,
    }
}

/// Step 1: the Secrets go first, so Argo CD stops using the clusters.
fn secret_actions(observed: &ObservedRemoval, removing: &[String]) -> Vec<RemovalAction> {
    removing
        .iter()
        .map(|name| {
            let registration = observed.registrations.iter().find(|r| r.secret == *name);
            let detail = match registration {
                Some(r) if r.managed_by_us() => r.describe(),
                Some(r) => format!(
                    "{}; made by {}, not by kubectl-argocd-eks",
                    r.describe(),
                    r.managed_by.as_deref().unwrap_or("someone else")
                ),
                None => "registration".to_owned(),
            };
            RemovalAction {
                change: Removal::Delete,
                step: RemovalStep::DeleteSecret {
                    namespace: observed.namespace.clone(),
                    name: name.clone(),
                },
                detail,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{ARGOCD_SERVICE_ACCOUNTS, MANAGED_BY_LABEL};
    use crate::core::registration::eks_registrations;
    use crate::core::secret::ObservedSecret;
    use crate::testing::{MANAGEMENT, TARGET, arn, endpoint, ours, reg, secret_with};

    // removal tests
    fn sas(role: Option<&str>, ours: bool) -> Vec<ServiceAccountIdentity> {
        ARGOCD_SERVICE_ACCOUNTS
            .iter()
            .map(|(name, _)| ServiceAccountIdentity {
                name: (*name).into(),
                irsa_role: role.map(str::to_owned),
                annotation_ours: ours,
            })
            .collect()
    }

    fn associations(ours: bool) -> Vec<ObservedAssociation> {
        ARGOCD_SERVICE_ACCOUNTS
            .iter()
            .map(|(name, _)| ObservedAssociation {
                association: PodIdentityAssociation {
                    id: format!("a-{name}"),
                    service_account: SaRef::new("argocd", name),
                    role_arn: MANAGEMENT.into(),
                    managed_by_us: true,
                    changed_at: None,
                    target_role_arn: None,
                    disable_session_tags: false,
                    external_id: None,
                },
                ours,
            })
            .collect()
    }

    fn observed(secrets: &[ObservedSecret]) -> ObservedRemoval {
        ObservedRemoval {
            namespace: "argocd".into(),
            registrations: eks_registrations(secrets),
            service_accounts: sas(None, false),
            hub_cluster: Some(arn("us-east-1", "argocd-hub")),
            associations: associations(true),
            ..ObservedRemoval::default()
        }
    }

    fn found(cluster: &str, region: &str, principal: &str, entry: EntryState) -> ObservedTarget {
        ObservedTarget::Found {
            cluster: arn(region, cluster),
            endpoint: endpoint(cluster, region),
            principal: principal.into(),
            entry,
        }
    }

    fn summary(plan: &RemovalPlan) -> Vec<(Removal, String)> {
        plan.actions
            .iter()
            .map(|a| (a.change, a.step.subject()))
            .collect()
    }

    #[test]
    fn identity_stays_while_another_registration_needs_it() {
        let mut observed = observed(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "legacy", "eu-west-1", None),
        ]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                MANAGEMENT,
                EntryState::Present { ours: true },
            ),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        let actions = summary(&plan);
        assert_eq!(actions[0], (Removal::Delete, "Secret argocd/a".into()));
        assert_eq!(
            actions[1],
            (
                Removal::Delete,
                format!("AccessEntry {MANAGEMENT} on EKS cluster prod")
            )
        );
        assert_eq!(actions.len(), 5);
        for action in &plan.actions[2..] {
            assert_eq!(action.change, Removal::Keep);
            assert_eq!(action.detail, "still needed by Secret argocd/b");
        }

        // The last one takes the associations with it.
        let mut last = observed.clone();
        last.registrations.retain(|r| r.secret == "b");
        last.targets.clear();
        let plan = plan_removal(&last, &["b".into()]);
        assert_eq!(plan.deletes().count(), 4, "{plan:#?}");
        assert!(
            plan.actions[1..]
                .iter()
                .all(|a| matches!(a.step, RemovalStep::DeletePodIdentityAssociation { .. }))
        );
    }

    #[test]
    fn removing_every_registration_at_once_frees_the_identity() {
        let observed = observed(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "legacy", "eu-west-1", None),
        ]);
        let plan = plan_removal(&observed, &["a".into(), "b".into()]);
        assert_eq!(plan.deletes().count(), 5);
    }

    #[test]
    fn identity_not_made_by_the_tool_is_kept() {
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", None)]);
        observed.associations = associations(false);
        observed.service_accounts = sas(Some(MANAGEMENT), false);
        observed.service_accounts[0].annotation_ours = true;
        let plan = plan_removal(&observed, &["a".into()]);
        let kept: Vec<&RemovalAction> = plan
            .actions
            .iter()
            .filter(|a| a.change == Removal::Keep)
            .collect();
        assert_eq!(kept.len(), 5);
        assert!(kept[..3].iter().all(|a| a.detail.contains("managed-by")));
        assert!(kept[3].detail.contains("someone else"));
        assert_eq!(
            summary(&plan)[4],
            (
                Removal::Delete,
                "ServiceAccount argocd/argocd-application-controller annotation eks.amazonaws.com/role-arn".into()
            )
        );
    }

    #[test]
    fn capability_registrations_do_not_hold_argocd_identity() {
        let capability = secret_with(
            "cap",
            &[("server", "arn:aws:eks:eu-west-1:123456789012:cluster/prod")],
        );
        let observed = observed(&[ours("a", "prod", "eu-west-1", None), capability]);
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.deletes().count(), 4);
    }

    #[test]
    fn access_entry_stays_while_the_same_principal_reaches_the_same_cluster() {
        let same = ours("b", "prod", "eu-west-1", Some(TARGET));
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", Some(TARGET)), same]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                TARGET,
                EntryState::Present { ours: true },
            ),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep);
        assert_eq!(plan.actions[1].detail, "still needed by Secret argocd/b");

        // Another principal on the same cluster does not hold it.
        let other = ours("b", "prod", "eu-west-1", None);
        observed.registrations =
            eks_registrations(&[ours("a", "prod", "eu-west-1", Some(TARGET)), other]);
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Delete);
    }

    #[test]
    fn access_entries_used_from_another_namespace_stay() {
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", Some(TARGET))]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                TARGET,
                EntryState::Present { ours: true },
            ),
        ));
        let mut other = reg(&ours("x", "prod", "eu-west-1", None));
        other.namespace = "argocd-team-b".into();
        observed.elsewhere = vec![other.clone()];
        // Direct mode over there: its management role is not known, so it may be TARGET.
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep);
        assert_eq!(
            plan.actions[1].detail,
            "still needed by Secret argocd-team-b/x"
        );

        // Their management role is known and is not TARGET, or they have no identity at all.
        for theirs in [Some(MANAGEMENT.to_owned()), None] {
            observed
                .elsewhere_management
                .insert("argocd-team-b".into(), theirs);
            let plan = plan_removal(&observed, &["a".into()]);
            assert_eq!(plan.actions[1].change, Removal::Delete);
            assert!(plan.notes.is_empty());
        }
        observed
            .elsewhere_management
            .insert("argocd-team-b".into(), Some(TARGET.into()));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep);

        other.role_arn = Some(MANAGEMENT.into());
        observed.elsewhere = vec![other];
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Delete);

        observed.elsewhere.clear();
        observed.elsewhere_unchecked = Some("forbidden".into());
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Delete);
        assert!(plan.notes[0].contains("other namespaces were not checked (forbidden)"));
    }

    #[test]
    fn direct_mode_principal_is_the_management_role() {
        let mut observed = observed(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "prod", "eu-west-1", Some(MANAGEMENT)),
        ]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                MANAGEMENT,
                EntryState::Present { ours: true },
            ),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep, "{plan:#?}");
    }

    #[test]
    fn untagged_entries_are_kept_and_config_map_clusters_get_a_note() {
        let mut observed = observed(&[
            ours("a", "prod", "eu-west-1", Some(TARGET)),
            ours("b", "legacy", "eu-west-1", Some(TARGET)),
        ]);
        observed.targets = vec![
            (
                "a".into(),
                found(
                    "prod",
                    "eu-west-1",
                    TARGET,
                    EntryState::Present { ours: false },
                ),
            ),
            (
                "b".into(),
                found("legacy", "eu-west-1", TARGET, EntryState::ConfigMap),
            ),
        ];
        let plan = plan_removal(&observed, &["a".into(), "b".into()]);
        assert_eq!(plan.actions[2].change, Removal::Keep);
        assert!(plan.actions[2].detail.starts_with("not created by"));
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].contains("aws-auth"), "{:?}", plan.notes);
        assert!(plan.notes[0].contains(TARGET));
    }

    #[test]
    fn unchecked_targets_and_associations_are_noted_not_touched() {
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", None)]);
        observed.associations.clear();
        observed.associations_unchecked = Some("the hub's EKS cluster is unknown".into());
        observed.targets.push((
            "a".into(),
            ObservedTarget::NotChecked("cluster prod was not found".into()),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(plan.notes.len(), 2);
        assert!(plan.notes[1].contains("delete-pod-identity-association"));
    }

    #[test]
    fn foreign_secrets_may_be_deleted_and_say_so() {
        let mut hand = ours("hand", "prod", "eu-west-1", None);
        hand.labels.remove(MANAGED_BY_LABEL);
        let plan = plan_removal(&observed(&[hand]), &["hand".into()]);
        assert_eq!(plan.actions[0].change, Removal::Delete);
        assert!(plan.actions[0].detail.contains("not by kubectl-argocd-eks"));
    }

    #[test]
    fn management_role_prefers_irsa() {
        assert_eq!(
            management_role(&sas(Some("irsa"), true), &associations(true)).as_deref(),
            Some("irsa")
        );
        assert_eq!(
            management_role(&sas(None, false), &associations(true)).as_deref(),
            Some(MANAGEMENT)
        );
        assert_eq!(management_role(&sas(None, false), &[]), None);
    }
}
