//! What `remove` reads before planning: Argo CD's identity, each removed target's access entry,
//! and the registrations of other Argo CD instances on the hub that may share them. Reads only.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};

use crate::cli::settings::Settings;
use crate::commands::Ports;
use crate::commands::list::hub_cluster;
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, AuthenticationMode, ClusterArn, IRSA_ANNOTATION, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
};
use crate::core::registration::{EksRegistration, Format, eks_registrations};
use crate::core::removal::{
    EntryState, ObservedAssociation, ObservedRemoval, ObservedTarget, ServiceAccountIdentity,
    management_role,
};
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubRead, Prompt};

/// How many other namespaces' identities are read at once.
const ELSEWHERE_CONCURRENCY: usize = 8;

fn is_argocd(name: &str) -> bool {
    ARGOCD_SERVICE_ACCOUNTS.iter().any(|(n, _)| *n == name)
}

/// Read everything the removal plan depends on; reads only.
pub(super) async fn observe<H: HubRead, A: EksRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    settings: &Settings,
    default_region: Option<&str>,
    namespace: &str,
    registrations: Vec<EksRegistration>,
    removing: &[String],
) -> Result<ObservedRemoval> {
    let hub = hub_cluster(ports.hub, ports.accounts.own(), settings, default_region).await;
    let (service_accounts, associations, unchecked) =
        observe_identity(ports, &hub, namespace).await?;

    let management = management_role(&service_accounts, &associations);
    let mut targets = Vec::new();
    for registration in registrations
        .iter()
        .filter(|r| removing.contains(&r.secret))
    {
        let target = observe_target(ports, registration, management.as_deref()).await?;
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
async fn observe_elsewhere<H: HubRead, A: EksRead, P: Prompt>(
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
async fn management_roles<H: HubRead, A: EksRead, P: Prompt>(
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
async fn namespace_management<H: HubRead, A: EksRead, P: Prompt>(
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
    match ports
        .accounts
        .own()
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
async fn observe_identity<H: HubRead, A: EksRead, P: Prompt>(
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
        Ok(hub) => match ports
            .accounts
            .own()
            .pod_identity_associations(hub, namespace)
            .await
        {
            Ok(found) => (found, None),
            // Not answering is no answer: stop before any write (see observe_target).
            Err(e @ Error::Unreachable { .. }) => return Err(e),
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
async fn observe_target<H: HubRead, A: EksRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    registration: &EksRegistration,
    management: Option<&str>,
) -> Result<ObservedTarget> {
    let what = registration.describe();
    match registration.format {
        Format::Capability => {
            return Ok(ObservedTarget::NotChecked(format!(
                "access to {what} belongs to the Argo CD capability's role and was left alone"
            )));
        }
        Format::Endpoint => {
            return Ok(ObservedTarget::NotChecked(format!(
                "the Secret does not use awsAuthConfig, so access to {what} was left alone"
            )));
        }
        Format::AwsAuth => {}
    }
    let Some(principal) = registration.principal(management) else {
        return Ok(ObservedTarget::NotChecked(format!(
            "direct mode, and Argo CD's management role is unknown (no IRSA annotation or pod identity association), so the access entry on {what} was left alone"
        )));
    };
    let (Some(region), Some(name)) = (&registration.region, &registration.cluster_name) else {
        return Ok(ObservedTarget::NotChecked(format!(
            "the region of {what} is unknown, so its access entry for {principal} was left alone"
        )));
    };
    let eks = ports
        .accounts
        .for_account(registration.account.as_deref().unwrap_or_default());
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
            return Ok(ObservedTarget::NotChecked(format!(
                "cluster {what} was not found with these credentials (reach its account with --assume-role or --profile), so its access entry for {principal} was left alone"
            )));
        }
        // A server that did not answer may answer the next run: stop before any write, so
        // that the Secret stays and the same command can still find what it leads to.
        Err(e @ Error::Unreachable { .. }) => return Err(e),
        Err(e) => {
            return Ok(ObservedTarget::NotChecked(format!(
                "could not look up {what} ({e}), so its access entry for {principal} was left alone"
            )));
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
            Err(e @ Error::Unreachable { .. }) => return Err(e),
            Err(e) => {
                return Ok(ObservedTarget::NotChecked(format!(
                    "could not read the access entry for {principal} on {what} ({e}); it was left alone"
                )));
            }
        }
    };
    Ok(ObservedTarget::Found {
        cluster: cluster.arn,
        endpoint: cluster.endpoint,
        principal,
        entry,
    })
}
