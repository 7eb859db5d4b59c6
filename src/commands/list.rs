//! `list`: the Argo CD cluster Secrets that point at EKS, with identity mode, role and health.

use std::io::Write;

use futures::stream::{self, StreamExt};

use crate::cli::output::emit;
use crate::cli::output::list::{ListReport, ListedCluster};
use crate::cli::settings::Settings;
use crate::commands::Ports;
use crate::commands::targets::{argocd_namespace, find_hub_cluster, search_regions};
use crate::core::model::{ARGOCD_SERVICE_ACCOUNTS, ClusterArn, IdentityMode, Lookup};
use crate::core::registration::{EksRegistration, Format, Health, eks_registrations, health};
use crate::error::Result;
use crate::ports::{EksRead, HubRead, IamRead, Prompt};

/// How many DescribeCluster calls `list` keeps in flight at once.
const HEALTH_CONCURRENCY: usize = 8;

pub(crate) async fn run<H: HubRead, A: EksRead + IamRead, P: Prompt>(
    settings: &Settings,
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let namespace = argocd_namespace(ports.hub, settings).await?;
    let secrets = ports.hub.cluster_secrets(&namespace).await?;
    let registrations = eks_registrations(&secrets);
    let others = secrets.len() - registrations.len();
    let hub_mode = if registrations.iter().any(|r| r.format == Format::AwsAuth) {
        hub_identity_mode(&ports, settings, default_region, &namespace).await
    } else {
        None
    };
    let healths = check_health(&ports, &registrations).await;
    let clusters: Vec<ListedCluster> = registrations
        .iter()
        .zip(healths)
        .map(|(registration, health)| listed(registration, hub_mode, health))
        .collect();
    let report = ListReport {
        namespace,
        clusters,
        other_cluster_secrets: others,
    };
    emit(out, settings.output, &report)
}

fn listed(
    registration: &EksRegistration,
    hub_mode: Option<IdentityMode>,
    health: Health,
) -> ListedCluster {
    let mode = match registration.format {
        Format::Capability => "capability".to_owned(),
        Format::AwsAuth => hub_mode.map_or_else(|| "unknown".to_owned(), |m| m.to_string()),
        Format::Endpoint => "unknown".to_owned(),
    };
    let role = match registration.format {
        Format::AwsAuth => Some(
            registration
                .role_arn
                .clone()
                .unwrap_or_else(|| "direct".to_owned()),
        ),
        Format::Capability | Format::Endpoint => None,
    };
    ListedCluster {
        secret: registration.secret.clone(),
        name: registration.display_name.clone(),
        cluster: registration.cluster_name.clone(),
        region: registration.region.clone(),
        account: registration.account.clone(),
        server: registration.server.clone(),
        mode,
        role,
        managed_by: registration.managed_by.clone(),
        managed_by_us: registration.managed_by_us(),
        health,
    }
}

/// The hub's own EKS cluster, without failing: Err says why it is not known.
pub(crate) async fn hub_cluster<H: HubRead, E: EksRead>(
    hub: &H,
    eks: &E,
    settings: &Settings,
    default_region: Option<&str>,
) -> std::result::Result<ClusterArn, String> {
    let context = hub.context();
    if let Some(arn) = context.cluster_arn() {
        return Ok(arn);
    }
    let regions = search_regions(
        &settings.aws.regions,
        settings.aws.all_regions,
        default_region,
    )
    .map_err(|e| e.to_string())?;
    match find_hub_cluster(context, eks, None, &regions).await {
        Ok(Some(arn)) => Ok(arn),
        Ok(None) => Err("the kube context does not name the hub's EKS cluster".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// How Argo CD's pods get AWS credentials: an IRSA annotation on one of its service accounts
/// (AWS SDKs prefer it), else pod identity associations on the hub; None when neither is found
/// or the hub could not be read.
async fn hub_identity_mode<H: HubRead, A: EksRead + IamRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    settings: &Settings,
    default_region: Option<&str>,
    namespace: &str,
) -> Option<IdentityMode> {
    let is_argocd = |name: &str| ARGOCD_SERVICE_ACCOUNTS.iter().any(|(n, _)| *n == name);
    match ports.hub.service_accounts(namespace).await {
        Ok(accounts)
            if accounts
                .iter()
                .any(|sa| is_argocd(&sa.name) && sa.irsa_role.is_some()) =>
        {
            return Some(IdentityMode::Irsa);
        }
        Ok(_) => {}
        Err(e) => tracing::info!("could not read Argo CD's service accounts: {e}"),
    }
    let hub_eks = ports.accounts.own();
    let hub = match hub_cluster(ports.hub, hub_eks, settings, default_region).await {
        Ok(hub) => hub,
        Err(why) => {
            tracing::info!("identity mode unknown: {why}");
            return None;
        }
    };
    match hub_eks.pod_identity_associations(&hub, namespace).await {
        Ok(associations)
            if associations
                .iter()
                .any(|a| is_argocd(&a.service_account.name)) =>
        {
            Some(IdentityMode::PodIdentity)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::info!("could not list pod identity associations on {hub}: {e}");
            None
        }
    }
}

/// Each registration's health, from one DescribeCluster each (concurrent, bounded), in the
/// cluster's own account when one of the accounts reaches it.
async fn check_health<H: HubRead, A: EksRead + IamRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    registrations: &[EksRegistration],
) -> Vec<Health> {
    // The caller's own account, asked only when some cluster is in an account not assumed.
    let caller = if registrations.iter().any(|r| {
        r.account
            .as_deref()
            .is_some_and(|a| !ports.accounts.is_assumed(a))
    }) {
        match ports.accounts.own().caller().await {
            Ok(caller) => Some(caller.account),
            Err(e) => {
                tracing::info!("could not tell the caller's account: {e}");
                None
            }
        }
    } else {
        None
    };
    let caller = caller.as_deref();
    let mut healths: Vec<(usize, Health)> = stream::iter(registrations.iter().enumerate())
        .map(|(index, registration)| async move {
            (index, one_health(ports, registration, caller).await)
        })
        .buffer_unordered(HEALTH_CONCURRENCY)
        .collect()
        .await;
    healths.sort_by_key(|(index, _)| *index);
    healths.into_iter().map(|(_, health)| health).collect()
}

async fn one_health<H: HubRead, A: EksRead + IamRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    registration: &EksRegistration,
    caller: Option<&str>,
) -> Health {
    let (Some(region), Some(name)) = (&registration.region, &registration.cluster_name) else {
        return Health::Unknown;
    };
    let account = registration.account.as_deref();
    let assumed = account.filter(|a| ports.accounts.is_assumed(a));
    let client_account = assumed.or(caller);
    if let (Some(account), Some(client)) = (account, client_account)
        && account != client
    {
        // No credentials for that account: --assume-role would reach it.
        return Health::Unknown;
    }
    let eks = ports.accounts.for_account(account.unwrap_or_default());
    let read = eks.describe_cluster(region, name).await;
    if let Err(e) = &read {
        tracing::info!("DescribeCluster {name} ({region}): {e}");
    }
    let described = Lookup::from_read(read);
    health(registration, client_account, described.as_ref())
}

#[cfg(test)]
mod tests {
    use crate::commands::accounts::Accounts;
    use crate::commands::add::tests::registered;
    use crate::testing::{FakeAws, FakeHub, FakePrompt, eks_cluster, run_tool};

    const ACCOUNT: &str = "123456789012";

    async fn list(hub: &FakeHub, accounts: &Accounts<FakeAws>, args: &[&str]) -> String {
        let all = [&["list", "--argocd-namespace", "argocd"], args].concat();
        let (result, out) = run_tool(hub, accounts, &FakePrompt::default(), &all, false).await;
        result.unwrap();
        out
    }

    #[tokio::test]
    async fn registered_clusters_with_mode_role_and_health() {
        let hub = FakeHub::with_argocd("argocd");
        let clusters = vec![
            eks_cluster(ACCOUNT, "eu-west-1", "prod"),
            eks_cluster(ACCOUNT, "eu-west-1", "staging"),
        ];
        let accounts = Accounts::new(FakeAws::in_account(ACCOUNT, clusters.clone()));
        registered(&hub, &accounts, &["prod", "staging"]).await;

        let table = list(&hub, &accounts, &[]).await;
        let rows: Vec<&str> = table.lines().collect();
        assert!(
            rows[0].starts_with("SECRET") && rows[0].ends_with("HEALTH"),
            "{table}"
        );
        assert!(
            rows[1].contains("prod")
                && rows[1].contains("irsa")
                && rows[1].contains("direct")
                && rows[1].ends_with("ok"),
            "{table}"
        );

        // The CA of prod rotated, staging is gone: the health says so.
        let mut rotated = clusters[0].clone();
        rotated.ca_data = "TkVX".into();
        let moved = Accounts::new(FakeAws::in_account(ACCOUNT, vec![rotated]));
        let document: serde_json::Value =
            serde_json::from_str(&list(&hub, &moved, &["-o", "json"]).await).unwrap();
        let health: Vec<&str> = document["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["health"].as_str().unwrap())
            .collect();
        assert_eq!(health, ["ca-rotated", "missing"]);
        assert_eq!(document["otherClusterSecrets"], 0);
    }

    #[tokio::test]
    async fn an_empty_namespace_says_so() {
        let hub = FakeHub::with_argocd("argocd");
        let accounts = Accounts::new(FakeAws::in_account(ACCOUNT, Vec::new()));
        assert_eq!(
            list(&hub, &accounts, &[]).await,
            "No EKS cluster is registered with Argo CD in namespace argocd.\n"
        );
    }
}
