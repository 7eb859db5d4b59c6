//! `add`'s guided mode: with no CLUSTER on a terminal, pick the clusters from a list and answer
//! what the flags left out (identity, management role, target role, access policy).

use std::collections::BTreeSet;

use crate::cli::output::Spinner;
use crate::commands::Ports;
use crate::commands::discovery::{Discovered, discover};
use crate::commands::targets::Regions;
use crate::core::access::{ACCESS_POLICIES, TargetAccess};
use crate::core::model::{AccessScope, ClusterArn, EksCluster, IdentityMode, RoleArn};
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubRead, Prompt};

/// Guided mode: list every cluster the accounts can see and let the user pick.
pub(super) async fn pick_targets<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    regions: &Regions,
    namespace: &str,
) -> Result<Vec<EksCluster>> {
    let spinner = Spinner::start(&format!(
        "Looking for EKS clusters in {} region(s), {} account(s)",
        regions.len(),
        ports.accounts.count()
    ));
    let started = std::time::Instant::now();
    // The hub's Secrets (for the "(registered)" marks) are read while AWS answers.
    // At -v, when the names are all known (what a picker could show first) and when the
    // picker is shown; at -vv each region's list, at -vvv each cluster described.
    let progress = |progress: Discovered<'_>| match progress {
        Discovered::Listed { region, names } => {
            tracing::debug!(region, clusters = names.len(), "discovery: listed");
        }
        Discovered::AllListed { clusters } => tracing::info!(
            clusters,
            ms = started.elapsed().as_millis(),
            "discovery: every region listed"
        ),
        Discovered::Described(cluster) => {
            tracing::trace!(cluster = %cluster.arn, "discovery: described");
        }
    };
    let (found, secrets) = futures::join!(
        discover(ports.accounts, regions, &progress),
        ports.hub.cluster_secrets(namespace)
    );
    spinner.finish();
    let mut clusters = found?;
    // What TAB offers for `add CLUSTER` for a while.
    crate::adapters::local::remember_discovery(&clusters);
    if clusters.is_empty() {
        return Err(Error::NotFound {
            what: format!("any EKS cluster in {}", regions.join(", ")),
            fix: "Pass --region (or --all-regions), --profile or --assume-role to look elsewhere"
                .into(),
        });
    }
    let registered: Vec<String> = secrets?
        .iter()
        .filter_map(|secret| secret.server().map(str::to_owned))
        .collect();
    let hub_server = ports.hub.context().server.trim_end_matches('/').to_owned();
    let items: Vec<String> = clusters
        .iter()
        .map(|c| {
            let endpoint = c.endpoint.trim_end_matches('/').to_owned();
            let mark = match (registered.contains(&endpoint), endpoint == hub_server) {
                (true, _) => "  (registered)",
                (false, true) => "  (the hub itself)",
                (false, false) => "",
            };
            format!(
                "{:<24} {:<14} {:<13} {:<7} {}{mark}",
                c.arn.name,
                c.arn.region,
                c.arn.account,
                c.version.as_deref().unwrap_or("-"),
                c.status
            )
        })
        .collect();
    eprintln!(
        "  {:<24} {:<14} {:<13} {:<7} STATUS",
        "NAME", "REGION", "ACCOUNT", "VERSION"
    );
    tracing::info!(
        rows = items.len(),
        ms = started.elapsed().as_millis(),
        "discovery: picker shown"
    );
    let picked = loop {
        let picked =
            ports
                .prompt
                .pick_many("Which clusters should Argo CD manage?", "CLUSTER", &items)?;
        if !picked.is_empty() {
            break picked;
        }
        eprintln!(
            "Nothing picked: press space on each cluster to pick it, then enter (esc cancels)."
        );
    };
    let picked: BTreeSet<usize> = picked.into_iter().collect();
    let mut index = 0;
    clusters.retain(|_| {
        index += 1;
        picked.contains(&(index - 1))
    });
    Ok(clusters)
}

fn validate_role(answer: &str, optional: bool) -> std::result::Result<(), String> {
    if optional && answer.is_empty() {
        return Ok(());
    }
    RoleArn::parse(answer)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Ask for the management role, offering the one the hub's service accounts already use.
pub(super) async fn ask_management_role<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    namespace: &str,
    mode: IdentityMode,
    hub_cluster: Option<&ClusterArn>,
) -> Result<RoleArn> {
    let current = match (mode, hub_cluster) {
        (IdentityMode::PodIdentity, Some(cluster)) => ports
            .accounts
            .own()
            .pod_identity_associations(cluster, namespace)
            .await?
            .into_iter()
            .map(|a| a.role_arn)
            .next(),
        _ => ports
            .hub
            .service_accounts(namespace)
            .await?
            .into_iter()
            .find_map(|sa| sa.irsa_role),
    };
    let answer = ports.prompt.text(
        "Management role ARN (the role Argo CD's pods run as)",
        "--management-role-arn",
        current.as_deref(),
        &|answer| validate_role(answer, false),
    )?;
    RoleArn::parse(&answer).map_err(|e| Error::usage(e.to_string()))
}

pub(super) fn ask_target_role<P: Prompt>(prompt: &P) -> Result<Option<RoleArn>> {
    let answer = prompt.text(
        "Target role ARN to assume (empty: direct mode)",
        "--role-arn",
        None,
        &|answer| validate_role(answer, true),
    )?;
    if answer.is_empty() {
        return Ok(None);
    }
    RoleArn::parse(&answer)
        .map(Some)
        .map_err(|e| Error::usage(e.to_string()))
}

pub(super) fn ask_access<P: Prompt>(prompt: &P) -> Result<TargetAccess> {
    let items: Vec<String> = ACCESS_POLICIES.iter().map(|p| (*p).to_owned()).collect();
    let picked = prompt.pick_one(
        "Access policy for Argo CD on the target (cluster scope)",
        "--access-policy",
        &items,
        0,
    )?;
    Ok(TargetAccess {
        policy: ACCESS_POLICIES[picked].to_owned(),
        scope: AccessScope::Cluster,
    })
}
