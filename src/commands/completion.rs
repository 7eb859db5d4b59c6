//! `completion SHELL` prints a shell's completion script; the candidate functions answer a TAB
//! from live data: local files at once, the hub under a short timeout, AWS never (the last
//! discovery's cache instead).

use std::io::Write;
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;

use crate::adapters::kube::KubeHub;
use crate::adapters::local;
use crate::cli::completion::{CompletionShell, write_script};
use crate::cli::settings::Timeouts;
use crate::core::access::ACCESS_POLICIES;
use crate::core::model::ClusterArn;
use crate::core::partition::PARTITIONS;
use crate::error::Result;
use crate::ports::HubRead;

/// Where `remove`/`doctor` look without --argocd-namespace (a completer cannot see other flags).
const ARGOCD_NAMESPACE: &str = "argocd";
/// The longest a TAB waits for the hub before it offers nothing.
const HUB_TIMEOUT: Duration = Duration::from_millis(1500);

pub(crate) fn run(shell: CompletionShell, out: &mut dyn Write) -> Result<()> {
    Ok(write_script(shell, out)?)
}

fn candidate(value: impl Into<String>, help: impl Into<String>) -> CompletionCandidate {
    let help: String = help.into();
    let candidate = CompletionCandidate::new(value.into());
    if help.is_empty() {
        candidate
    } else {
        candidate.help(Some(help.into()))
    }
}

/// `--context`: the kubeconfig's contexts, with their clusters.
pub(crate) fn contexts() -> Vec<CompletionCandidate> {
    local::kube_contexts()
        .into_iter()
        .map(|(name, cluster)| candidate(name, cluster))
        .collect()
}

/// `--profile`: the AWS config's profiles.
pub(crate) fn profiles() -> Vec<CompletionCandidate> {
    local::aws_profiles()
        .into_iter()
        .map(|name| candidate(name, ""))
        .collect()
}

/// `--region`: the regions EKS runs in, in every partition.
pub(crate) fn regions() -> Vec<CompletionCandidate> {
    PARTITIONS
        .iter()
        .flat_map(|partition| partition.eks_regions)
        .map(|region| candidate(*region, ""))
        .collect()
}

/// `--access-policy`: the EKS access policies.
pub(crate) fn access_policies() -> Vec<CompletionCandidate> {
    ACCESS_POLICIES.iter().map(|p| candidate(*p, "")).collect()
}

/// `add CLUSTER`: the clusters the last discovery found (the guided `add` writes it), while
/// it is fresh; a TAB never calls AWS.
pub(crate) fn discovered_clusters() -> Vec<CompletionCandidate> {
    let mut clusters = local::recent_discovery(local::DISCOVERY_CACHE_TTL);
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    clusters.dedup_by(|a, b| a.name == b.name);
    clusters
        .into_iter()
        .map(|c| candidate(c.name, format!("{} {}", c.region, c.account)))
        .collect()
}

/// `--argocd-namespace`: the hub's namespaces (current context; nothing after the timeout).
pub(crate) fn namespaces() -> Vec<CompletionCandidate> {
    from_hub(|hub| async move { hub.namespace_names().await })
        .into_iter()
        .map(|name| candidate(name, ""))
        .collect()
}

/// `remove`/`doctor CLUSTER`: the clusters registered in Argo CD's default namespace.
pub(crate) fn registered_clusters() -> Vec<CompletionCandidate> {
    let secrets = from_hub(|hub| async move { hub.cluster_secrets(ARGOCD_NAMESPACE).await });
    let mut found: Vec<(String, String)> = secrets
        .iter()
        .filter_map(|secret| {
            let name = match secret.config().and_then(|c| c.aws_auth_config) {
                Some(aws) => aws.cluster_name,
                // The EKS capability's format names the cluster by ARN in `server`.
                None => ClusterArn::parse(secret.server()?).ok()?.name,
            };
            Some((name, format!("Secret {}", secret.name)))
        })
        .collect();
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    found
        .into_iter()
        .map(|(name, help)| candidate(name, help))
        .collect()
}

/// Run `read` against the hub of the current context, or give nothing when that fails or
/// takes longer than HUB_TIMEOUT.
fn from_hub<T, F, Fut>(read: F) -> Vec<T>
where
    F: FnOnce(KubeHub) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        let read = async {
            let hub = KubeHub::connect(None, None, Timeouts::for_call(HUB_TIMEOUT)).await?;
            read(hub).await
        };
        match tokio::time::timeout(HUB_TIMEOUT, read).await {
            Ok(Ok(values)) => values,
            _ => Vec::new(),
        }
    })
}
