//! `add`'s reads: everything the plan depends on (the hub's lists, identity and access on
//! AWS, Secrets without Argo CD's label), each sent as soon as what it depends on is known.

use crate::commands::Ports;
use crate::core::access::ObservedAccess;
use crate::core::model::IdentityMode;
use crate::core::plan::{HubIdentity, Observed, Registration};
use crate::core::secret::default_secret_name;
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubRead, Prompt};

/// The hub's lists the plan reads (cluster Secrets, service accounts of `namespace`), both
/// at once: they depend on nothing but the namespace, so `add` sends them with DescribeCluster.
pub(super) async fn hub_lists<H: HubRead>(hub: &H, namespace: &str) -> Result<HubLists> {
    futures::try_join!(
        hub.cluster_secrets(namespace),
        hub.service_accounts(namespace)
    )
}

pub(super) type HubLists = (
    Vec<crate::core::secret::ObservedSecret>,
    Vec<crate::core::model::ObservedServiceAccount>,
);

/// Read everything the plan depends on; reads only, each as soon as what it depends on is
/// known: the hub's lists (`lists`: when already read), each access entry and the
/// associations at once, then the Secret of each name the labelled list lacks (one may exist
/// without Argo CD's label: `kubectl apply`'s).
pub(super) async fn observe<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
    lists: Option<HubLists>,
) -> Result<Observed> {
    let namespace = &identity.namespace;
    let (lists, associations, access) = futures::try_join!(
        async {
            match lists {
                Some(lists) => Ok(lists),
                None => hub_lists(ports.hub, namespace).await,
            }
        },
        associations(ports, identity),
        access_entries(ports, identity, registrations)
    )?;
    let (mut secrets, service_accounts) = lists;
    let missing = unlisted_secrets(registrations, &secrets);
    let unlabelled =
        futures::future::try_join_all(missing.iter().map(|name| ports.hub.secret(namespace, name)))
            .await?;
    secrets.extend(unlabelled.into_iter().flatten());
    Ok(Observed {
        secrets,
        service_accounts,
        associations,
        access,
    })
}

/// The registrations' Secret names the labelled list lacks, once each: Secrets `add` creates
/// or takes over (so its plan writes), asked for by name.
pub(super) fn unlisted_secrets(
    registrations: &[Registration],
    listed: &[crate::core::secret::ObservedSecret],
) -> Vec<String> {
    let mut missing: Vec<String> = registrations
        .iter()
        .map(|registration| {
            registration
                .secret
                .secret_name
                .clone()
                .unwrap_or_else(|| default_secret_name(&registration.cluster.arn))
        })
        .filter(|name| !listed.iter().any(|s| s.name == *name))
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// The hub's pod identity associations in Argo CD's namespace (pod identity mode only).
async fn associations<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
) -> Result<Vec<crate::core::model::PodIdentityAssociation>> {
    match (&identity.mode, &identity.hub_cluster) {
        (IdentityMode::PodIdentity, Some(hub_cluster)) => {
            ports
                .accounts
                .own()
                .pod_identity_associations(hub_cluster, &identity.namespace)
                .await
        }
        _ => Ok(Vec::new()),
    }
}

/// Each registration's access entry for its principal, all at once (clusters that take
/// access entries only).
async fn access_entries<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
) -> Result<ObservedAccess> {
    let reads = registrations.iter().filter_map(|registration| {
        let cluster = &registration.cluster;
        let takes_entries = cluster
            .authentication_mode
            .is_some_and(|mode| mode.allows_access_entries());
        (registration.access.is_some() && takes_entries).then_some(async move {
            let principal = registration.principal(identity).to_string();
            let entry = ports
                .accounts
                .for_account(&cluster.arn.account)
                .access_entry(&cluster.arn, &principal)
                .await?;
            Ok::<_, Error>((cluster.arn.to_string(), entry.map(|e| e.policies)))
        })
    });
    let mut access = ObservedAccess::new();
    for (cluster, entry) in futures::future::try_join_all(reads).await? {
        access.insert(cluster, entry);
    }
    Ok(access)
}
