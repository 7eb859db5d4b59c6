//! What this machine already knows, read without a network call (for shell completion):
//! kubeconfig contexts, AWS profile names, and a short-lived cache of the last discovery.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kube::config::Kubeconfig;
use serde::{Deserialize, Serialize};

use crate::core::model::EksCluster;
use crate::error::{Error, Result};

/// How long the last discovery's cluster list stays good for completion.
pub(crate) const DISCOVERY_CACHE_TTL: Duration = Duration::from_secs(15 * 60);
const CACHE_FILE: &str = "discovered-clusters.json";

/// The kubeconfig's contexts (KUBECONFIG with all its paths, else ~/.kube/config), each with
/// its cluster; none when there is no readable kubeconfig.
pub(crate) fn kube_contexts() -> Vec<(String, String)> {
    let Ok(file) = Kubeconfig::read() else {
        return Vec::new();
    };
    file.contexts
        .into_iter()
        .map(|named| {
            let cluster = named.context.map(|c| c.cluster).unwrap_or_default();
            (named.name, cluster)
        })
        .collect()
}

/// Profile names from the AWS config and credentials files (AWS_CONFIG_FILE and
/// AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials).
pub(crate) fn aws_profiles() -> Vec<String> {
    let home = home_dir();
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let mut names = Vec::new();
    for (path, in_config) in [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ] {
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            continue;
        };
        names.extend(profile_sections(&text, in_config));
    }
    names.sort();
    names.dedup();
    names
}

/// A profile named with --profile or AWS_PROFILE must exist, as the AWS CLI requires (the
/// SDK would quietly fall back to other credentials). `default` may be absent.
pub(crate) fn require_profile(flag: Option<&str>) -> Result<()> {
    let env = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let (name, source) = match (flag, env.as_deref()) {
        (Some(name), _) => (name, "--profile"),
        (None, Some(name)) => (name, "AWS_PROFILE"),
        (None, None) => return Ok(()),
    };
    let known = aws_profiles();
    if name == "default" || known.iter().any(|p| p == name) {
        return Ok(());
    }
    let have = if known.is_empty() {
        "there are none: run aws configure --profile NAME (or aws configure sso)".to_owned()
    } else {
        format!("there are: {}", known.join(", "))
    };
    Err(Error::usage(format!(
        "{source} {name}: the AWS config (AWS_CONFIG_FILE, ~/.aws/config) and credentials files have no profile {name}; {have}. Pass one of them, or leave {source} out to use the default credentials"
    )))
}

/// Section names that are profiles: `[default]` and `[profile NAME]` in the config file,
/// every `[NAME]` in the credentials file.
fn profile_sections(text: &str, in_config: bool) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let section = line.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
            let name = match section.strip_prefix("profile") {
                Some(rest) if in_config && rest.starts_with(char::is_whitespace) => rest.trim(),
                _ if in_config && section != "default" => return None,
                _ => section,
            };
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

/// One cluster of the last discovery, as completion offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CachedCluster {
    pub name: String,
    pub region: String,
    pub account: String,
}

#[derive(Serialize, Deserialize)]
struct DiscoveryCache {
    /// Seconds since the Unix epoch.
    written_at: u64,
    clusters: Vec<CachedCluster>,
}

/// This tool's cache directory: KUBECTL_ARGOCD_EKS_CACHE_DIR, else XDG_CACHE_HOME, else
/// ~/.cache (LOCALAPPDATA on Windows), with `kubectl-argocd-eks` under the last two.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBECTL_ARGOCD_EKS_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from))
        .or_else(|| home_dir().map(|h| h.join(".cache")))?;
    Some(base.join("kubectl-argocd-eks"))
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Remember what a discovery found, for completion. Best effort: a cache that cannot be
/// written only means no cluster names on TAB (logged at -vv).
pub(crate) fn remember_discovery(clusters: &[EksCluster]) {
    // Unit tests of `add` run on fakes: the user's own cache is left alone.
    if cfg!(test) {
        return;
    }
    let written = cache_dir()
        .ok_or_else(|| std::io::Error::other("no home directory"))
        .and_then(|dir| write_discovery(&dir, clusters, now()));
    if let Err(error) = written {
        tracing::debug!("could not write the discovery cache for completion: {error}");
    }
}

/// The clusters of the last discovery, when it is younger than `max_age`.
pub(crate) fn recent_discovery(max_age: Duration) -> Vec<CachedCluster> {
    cache_dir().map_or_else(Vec::new, |dir| read_discovery(&dir, max_age, now()))
}

fn write_discovery(dir: &Path, clusters: &[EksCluster], written_at: u64) -> std::io::Result<()> {
    let cache = DiscoveryCache {
        written_at,
        clusters: clusters
            .iter()
            .map(|c| CachedCluster {
                name: c.arn.name.clone(),
                region: c.arn.region.clone(),
                account: c.arn.account.clone(),
            })
            .collect(),
    };
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_vec(&cache).map_err(std::io::Error::other)?;
    // Written whole, then renamed, so a TAB never reads half a file.
    let partial = dir.join(format!("{CACHE_FILE}.{}", std::process::id()));
    std::fs::write(&partial, text)?;
    std::fs::rename(partial, dir.join(CACHE_FILE))
}

fn read_discovery(dir: &Path, max_age: Duration, now: u64) -> Vec<CachedCluster> {
    let Ok(text) = std::fs::read(dir.join(CACHE_FILE)) else {
        return Vec::new();
    };
    match serde_json::from_slice::<DiscoveryCache>(&text) {
        Ok(cache) if now.saturating_sub(cache.written_at) <= max_age.as_secs() => cache.clusters,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_from_config_and_credentials_sections() {
        let config = "[default]\nregion = eu-west-1\n[profile prod]\n[ profile  dev ]\n[sso-session corp]\n[services x]\n";
        assert_eq!(profile_sections(config, true), ["default", "prod", "dev"]);
        let credentials = "[default]\naws_access_key_id = x\n[ci]\n";
        assert_eq!(profile_sections(credentials, false), ["default", "ci"]);
    }

    #[test]
    fn discovery_cache_round_trip_and_expiry() {
        let dir = std::env::temp_dir().join(format!("argocd-eks-cache-{}", std::process::id()));
        let cluster = EksCluster {
            arn: crate::core::model::ClusterArn::new("aws", "eu-west-1", "111111111111", "prod"),
            endpoint: "https://x.eks.amazonaws.com".into(),
            ca_data: "Q0E=".into(),
            status: "ACTIVE".into(),
            version: None,
            oidc_issuer: None,
            authentication_mode: None,
            auto_mode: false,
            tags: std::collections::BTreeMap::new(),
        };
        assert!(read_discovery(&dir, DISCOVERY_CACHE_TTL, 1000).is_empty());
        write_discovery(&dir, &[cluster], 1000).unwrap();
        let expected = vec![CachedCluster {
            name: "prod".into(),
            region: "eu-west-1".into(),
            account: "111111111111".into(),
        }];
        assert_eq!(
            read_discovery(&dir, DISCOVERY_CACHE_TTL, 1000 + 60),
            expected
        );
        let late = 1000 + DISCOVERY_CACHE_TTL.as_secs() + 1;
        assert!(read_discovery(&dir, DISCOVERY_CACHE_TTL, late).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
