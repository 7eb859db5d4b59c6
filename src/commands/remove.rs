//! `remove`: unregister clusters, removing identity and access only when nothing else needs them.
//! observe -> plan (core::removal) -> show -> confirm -> apply -> verify, as `add` does.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::cli::args::{DryRun, OutputFormat};
use crate::cli::output::restart_command;
use crate::cli::settings::{Settings, TargetRef};
use crate::commands::Ports;
use crate::commands::list::{hub_cluster, write_document};
use crate::commands::targets::{argocd_namespace, eks_for};
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, AuthenticationMode, ClusterArn, IRSA_ANNOTATION, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
};
use crate::core::removal::{
    EksRegistration, EntryState, Format, ObservedAssociation, ObservedRemoval, ObservedTarget,
    Removal, RemovalPlan, RemovalStep, SelectError, ServiceAccountIdentity, eks_registrations,
    management_role, plan_removal, select,
};
use crate::error::{Error, Result};
use crate::ports::{Eks, Hub, Iam, Prompt, Write};

/// How many other namespaces' identities are read at once.
const ELSEWHERE_CONCURRENCY: usize = 8;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RemoveReport<'a> {
    plan: &'a RemovalPlan,
    /// `applied`, `dry-run-client`, `dry-run-server`.
    outcome: &'a str,
}

pub async fn run<H: Hub, A: Eks + Iam, P: Prompt>(
    settings: &Settings,
    clusters: &[TargetRef],
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let namespace = argocd_namespace(ports.hub, settings).await?;
    let registrations = eks_registrations(&ports.hub.cluster_secrets(&namespace).await?);
    let mut removing: Vec<String> = Vec::new();
    for target in clusters {
        let wanted = match target {
            TargetRef::Arn(arn) => arn.to_string(),
            TargetRef::Name(name) => name.clone(),
        };
        let registration =
            select(&registrations, &wanted, &namespace).map_err(|e| select_error(e, &namespace))?;
        if !removing.contains(&registration.secret) {
            removing.push(registration.secret.clone());
        }
    }

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
    let text = settings.output == OutputFormat::Text;
    if text {
        write_plan(out, &plan)?;
    }
    let outcome = match settings.dry_run {
        DryRun::Client => "dry-run-client",
        DryRun::Server => {
            apply(&ports, &plan, Write::ServerDryRun).await?;
            "dry-run-server"
        }
        DryRun::None => {
            if !settings.yes && !ports.prompt.confirm("Remove these?")? {
                return Err(Error::Cancelled);
            }
            apply(&ports, &plan, Write::Real).await?;
            verify(&ports, &plan).await?;
            "applied"
        }
    };
    if text {
        write_outcome(out, &plan, outcome)?;
    } else {
        write_document(
            out,
            settings.output,
            &RemoveReport {
                plan: &plan,
                outcome,
            },
        )?;
    }
    out.flush().map_err(|e| Error::Output(e.to_string()))
}

fn select_error(error: SelectError, namespace: &str) -> Error {
    match error {
        SelectError::None {
            wanted, candidates, ..
        } => Error::NotFound {
            what: format!("a registered EKS cluster called {wanted} in namespace {namespace}"),
            fix: if candidates.is_empty() {
                "No EKS cluster is registered there; pass --argocd-namespace if Argo CD runs elsewhere. Nothing was changed".to_owned()
            } else {
                format!(
                    "Registered (Secret = cluster): {}. Pass a cluster name, cluster ARN or Secret name (kubectl argocd-eks list shows them). Nothing was changed",
                    candidates.join(", ")
                )
            },
        },
        ambiguous @ SelectError::Ambiguous { .. } => {
            Error::usage(format!("{ambiguous}. Nothing was changed"))
        }
    }
}

fn is_argocd(name: &str) -> bool {
    ARGOCD_SERVICE_ACCOUNTS.iter().any(|(n, _)| *n == name)
}

/// Read everything the removal plan depends on; reads only.
async fn observe<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    settings: &Settings,
    default_region: Option<&str>,
    namespace: &str,
    registrations: Vec<EksRegistration>,
    removing: &[String],
) -> Result<ObservedRemoval> {
    let hub = hub_cluster(ports.hub, &ports.accounts[0].eks, settings, default_region).await;
    let (service_accounts, associations, unchecked) =
        observe_identity(ports, &hub, namespace).await?;

    let management = management_role(&service_accounts, &associations);
    let mut targets = Vec::new();
    for registration in registrations
        .iter()
        .filter(|r| removing.contains(&r.secret))
    {
        let target = observe_target(ports, registration, management.as_deref()).await;
        targets.push((registration.secret.clone(), target));
    }

    // Other Argo CD instances on the hub may reach the same targets as the same principal; in
    // direct mode that principal is their own management role.
    let (elsewhere, elsewhere_unchecked, elsewhere_management) =
        observe_elsewhere(ports, &hub, namespace, &targets).await;

    Ok(ObservedRemoval {
        namespace: namespace.to_owned(),
        registrations,
        service_accounts,
        hub_cluster: hub.ok(),
        associations,
        associations_unchecked: unchecked,
        targets,
        elsewhere,
        elsewhere_unchecked,
        elsewhere_management,
    })
}

/// Registrations in the hub's other namespaces, why they were not read (if so), and the
/// management role of the namespaces whose direct-mode registrations reach a removed target.
async fn observe_elsewhere<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    hub: &std::result::Result<ClusterArn, String>,
    namespace: &str,
    targets: &[(String, ObservedTarget)],
) -> (
    Vec<EksRegistration>,
    Option<String>,
    BTreeMap<String, Option<String>>,
) {
    let list = || async {
        match ports.hub.cluster_secrets_in_all_namespaces().await {
            Ok(secrets) => {
                let mut all = eks_registrations(&secrets);
                all.retain(|r| r.namespace != namespace);
                Ok(all)
            }
            Err(Error::PermissionDenied { .. }) => {
                Err("you may not list Secrets in all namespaces".to_owned())
            }
            Err(e) => Err(e.to_string()),
        }
    };
    let first = match list().await {
        Ok(all) => all,
        Err(why) => return (Vec::new(), Some(why), BTreeMap::new()),
    };
    // A namespace whose direct-mode registration reaches a removed target.
    let candidates = |all: &[EksRegistration]| -> BTreeSet<String> {
        all.iter()
            .filter(|r| r.format == Format::AwsAuth && r.role_arn.is_none())
            .filter(|r| {
                targets.iter().any(|(_, target)| match target {
                    ObservedTarget::Found {
                        cluster, endpoint, ..
                    } => r.reaches(cluster, endpoint),
                    ObservedTarget::NotChecked(_) => false,
                })
            })
            .map(|r| r.namespace.clone())
            .collect()
    };
    let before = candidates(&first);
    if before.is_empty() {
        return (first, None, BTreeMap::new());
    }
    let mut management = management_roles(ports, hub, &before).await;
    // List again. `remove` deletes a Secret before the identity, so a Secret still listed had
    // its identity when it was read above; `add` writes the identity before the Secret, so a
    // namespace that appeared meanwhile has its identity when it is read now.
    match list().await {
        Ok(again) => {
            let new: BTreeSet<String> = candidates(&again).difference(&before).cloned().collect();
            management.extend(management_roles(ports, hub, &new).await);
            (again, None, management)
        }
        Err(why) => (first, Some(why), management),
    }
}

/// The management role of each namespace's Argo CD (None: it has no AWS identity), where it
/// can be read; the plan counts the direct-mode registrations of a namespace left out as users
/// of the entry. Namespaces are read concurrently (bounded).
async fn management_roles<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    hub: &std::result::Result<ClusterArn, String>,
    namespaces: &BTreeSet<String>,
) -> BTreeMap<String, Option<String>> {
    stream::iter(namespaces)
        .map(|namespace| namespace_management(ports, hub, namespace))
        .buffer_unordered(ELSEWHERE_CONCURRENCY)
        .filter_map(|found| async move { found })
        .collect()
        .await
}

/// One namespace's Argo CD management role (None: no identity); None when it cannot be read.
async fn namespace_management<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    hub: &std::result::Result<ClusterArn, String>,
    namespace: &str,
) -> Option<(String, Option<String>)> {
    let irsa = match ports.hub.service_accounts(namespace).await {
        Ok(accounts) => accounts
            .into_iter()
            .filter(|sa| is_argocd(&sa.name))
            .find_map(|sa| sa.irsa_role),
        Err(e) => {
            tracing::info!("could not read Argo CD's identity in {namespace}: {e}");
            return None;
        }
    };
    if irsa.is_some() {
        return Some((namespace.to_owned(), irsa));
    }
    let hub = hub.as_ref().ok()?;
    match ports.accounts[0]
        .eks
        .pod_identity_associations(hub, namespace)
        .await
    {
        Ok(associations) => Some((
            namespace.to_owned(),
            associations
                .into_iter()
                .find(|a| is_argocd(&a.service_account.name))
                .map(|a| a.role_arn),
        )),
        Err(e) => {
            tracing::info!("could not read pod identity associations of {namespace}: {e}");
            None
        }
    }
}

/// Argo CD's service accounts in `namespace` with their IRSA annotation (and whether this tool
/// owns it), and their pod identity associations on the hub; the text says why associations
/// were not looked at, when they were not and the hub does not use IRSA.
async fn observe_identity<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    hub: &std::result::Result<ClusterArn, String>,
    namespace: &str,
) -> Result<(
    Vec<ServiceAccountIdentity>,
    Vec<ObservedAssociation>,
    Option<String>,
)> {
    let owned = ports
        .hub
        .owned_service_account_annotations(namespace)
        .await?;
    let service_accounts: Vec<ServiceAccountIdentity> = ports
        .hub
        .service_accounts(namespace)
        .await?
        .into_iter()
        .filter(|sa| is_argocd(&sa.name))
        .map(|sa| ServiceAccountIdentity {
            annotation_ours: owned
                .get(&sa.name)
                .is_some_and(|keys| keys.iter().any(|k| k == IRSA_ANNOTATION)),
            name: sa.name,
            irsa_role: sa.irsa_role,
        })
        .collect();
    let (mut associations, mut unchecked) = match hub {
        Ok(hub) => match ports.accounts[0]
            .eks
            .pod_identity_associations(hub, namespace)
            .await
        {
            Ok(found) => (found, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        },
        Err(why) => (Vec::new(), Some(why.clone())),
    };
    associations.retain(|a| is_argocd(&a.service_account.name));
    let associations = associations
        .into_iter()
        .map(|association| ObservedAssociation {
            ours: association.managed_by_us,
            association,
        })
        .collect();
    // A hub whose pods use IRSA has no associations to miss.
    if service_accounts.iter().any(|sa| sa.irsa_role.is_some()) {
        unchecked = None;
    }
    Ok((service_accounts, associations, unchecked))
}

/// The removed registration's cluster and the access entry of the principal that reached it.
async fn observe_target<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    registration: &EksRegistration,
    management: Option<&str>,
) -> ObservedTarget {
    let what = registration.describe();
    match registration.format {
        Format::Capability => {
            return ObservedTarget::NotChecked(format!(
                "access to {what} belongs to the Argo CD capability's role and was left alone"
            ));
        }
        Format::Endpoint => {
            return ObservedTarget::NotChecked(format!(
                "the Secret does not use awsAuthConfig, so access to {what} was left alone"
            ));
        }
        Format::AwsAuth => {}
    }
    let Some(principal) = registration.principal(management) else {
        return ObservedTarget::NotChecked(format!(
            "direct mode, and Argo CD's management role is unknown (no IRSA annotation or pod identity association), so the access entry on {what} was left alone"
        ));
    };
    let (Some(region), Some(name)) = (&registration.region, &registration.cluster_name) else {
        return ObservedTarget::NotChecked(format!(
            "the region of {what} is unknown, so its access entry for {principal} was left alone"
        ));
    };
    let eks = eks_for(
        ports.accounts,
        registration.account.as_deref().unwrap_or_default(),
    );
    let cluster = match eks.describe_cluster(region, name).await {
        Ok(Some(cluster))
            if registration
                .account
                .as_ref()
                .is_none_or(|a| *a == cluster.arn.account) =>
        {
            cluster
        }
        Ok(_) => {
            return ObservedTarget::NotChecked(format!(
                "cluster {what} was not found with these credentials (reach its account with --assume-role or --profile), so its access entry for {principal} was left alone"
            ));
        }
        Err(e) => {
            return ObservedTarget::NotChecked(format!(
                "could not look up {what} ({e}), so its access entry for {principal} was left alone"
            ));
        }
    };
    let entry = if cluster.authentication_mode == Some(AuthenticationMode::ConfigMap) {
        EntryState::ConfigMap
    } else {
        match eks.access_entry_tags(&cluster.arn, &principal).await {
            Ok(None) => EntryState::Absent,
            Ok(Some(tags)) => EntryState::Present {
                ours: tags.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE),
            },
            Err(e) => {
                return ObservedTarget::NotChecked(format!(
                    "could not read the access entry for {principal} on {what} ({e}); it was left alone"
                ));
            }
        }
    };
    ObservedTarget::Found {
        cluster: cluster.arn,
        endpoint: cluster.endpoint,
        principal,
        entry,
    }
}

/// The RBAC the plan's Kubernetes writes need, checked before anything is written.
async fn check_hub_permissions<H: Hub>(hub: &H, plan: &RemovalPlan) -> Result<()> {
    let mut needed = BTreeSet::new();
    for action in plan.deletes() {
        match &action.step {
            RemovalStep::DeleteSecret { .. } => needed.insert(("delete", "secrets")),
            RemovalStep::RemoveServiceAccountAnnotation { .. } => {
                needed.insert(("patch", "serviceaccounts"))
            }
            _ => false,
        };
    }
    let namespace = &plan.namespace;
    let mut denied = Vec::new();
    for (verb, resource) in needed {
        if !hub.can_i(namespace, verb, "", resource).await? {
            denied.push(format!("{verb} {resource}"));
        }
    }
    if denied.is_empty() {
        return Ok(());
    }
    Err(Error::PermissionDenied {
        what: format!(
            "the hub does not let you {} in namespace {namespace}",
            denied.join(", ")
        ),
        fix: "Nothing was changed. Ask a cluster admin for that RBAC (kubectl auth can-i shows what you may do)".into(),
    })
}

/// Make the plan's deletes in its order; writes only. AWS has no dry run: on a server dry run
/// only the Kubernetes writes are sent.
async fn apply<H: Hub, A: Eks + Iam, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    plan: &RemovalPlan,
    write: Write,
) -> Result<()> {
    check_hub_permissions(ports.hub, plan).await?;
    for action in plan.deletes() {
        match &action.step {
            RemovalStep::DeleteSecret { namespace, name } => {
                ports.hub.delete_secret(namespace, name, write).await?;
            }
            RemovalStep::RemoveServiceAccountAnnotation {
                service_account, ..
            } => {
                ports
                    .hub
                    .remove_service_account_annotation(service_account, IRSA_ANNOTATION, write)
                    .await?
            }
            _ if write == Write::ServerDryRun => {}
            RemovalStep::DeletePodIdentityAssociation {
                hub_cluster,
                association_id,
                ..
            } => {
                ports.accounts[0]
                    .eks
                    .delete_pod_identity_association(hub_cluster, association_id)
                    .await?
            }
            RemovalStep::DeleteAccessEntry {
                cluster,
                principal_arn,
            } => {
                eks_for(ports.accounts, &cluster.account)
                    .delete_access_entry(cluster, principal_arn)
                    .await?
            }
        }
    }
    Ok(())
}

/// Read back: everything deleted must be gone (an annotation may stay only when someone else
/// also owns it, and then it is no longer ours).
async fn verify<H: Hub, A: Eks + Iam, P: Prompt>(
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
                        ports.accounts[0]
                            .eks
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
            } => eks_for(ports.accounts, &cluster.account)
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

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Output(e.to_string())
}

fn marker(change: Removal) -> &'static str {
    match change {
        Removal::Delete => "-",
        Removal::Keep => "=",
    }
}

/// The plan, one line per object: `- delete`, `= keep` with the reason.
fn write_plan(out: &mut dyn std::io::Write, plan: &RemovalPlan) -> Result<()> {
    writeln!(
        out,
        "Plan to remove {} from Argo CD (namespace {}):",
        plan.secrets.join(", "),
        plan.namespace
    )
    .map_err(write_err)?;
    for action in &plan.actions {
        writeln!(
            out,
            "  {} {:<6} {}  ({})",
            marker(action.change),
            action.change.to_string(),
            action.step.subject(),
            action.detail
        )
        .map_err(write_err)?;
    }
    for note in &plan.notes {
        writeln!(out, "note: {note}").map_err(write_err)?;
    }
    Ok(())
}

fn write_outcome(out: &mut dyn std::io::Write, plan: &RemovalPlan, outcome: &str) -> Result<()> {
    let deletes = plan.deletes().count();
    let kept = plan.actions.len() - deletes;
    match outcome {
        "applied" => writeln!(out, "Removed: {deletes} deleted, {kept} kept."),
        "dry-run-server" => writeln!(
            out,
            "Dry run (server): the API server accepted the Kubernetes writes; AWS writes were not sent; nothing was changed ({deletes} to delete, {kept} kept)."
        ),
        _ => writeln!(
            out,
            "Dry run: nothing was changed ({deletes} to delete, {kept} kept)."
        ),
    }
    .map_err(write_err)?;
    if outcome == "applied" && plan.deletes().any(|a| a.step.changes_identity()) {
        writeln!(
            out,
            "Argo CD's running pods keep their AWS credentials until they restart:\n  {}",
            restart_command(&plan.namespace)
        )
        .map_err(write_err)?;
    }
    Ok(())
}
