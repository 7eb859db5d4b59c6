//! Finding clusters for `add`: the hub's own EKS cluster, named targets, and discovery across
//! accounts and regions (one bounded concurrent fan-out).

use std::collections::BTreeMap;

use futures::future::join_all;
use futures::stream::{self, StreamExt};

use super::accounts::Accounts;
use super::discovery::{DESCRIBE_PER_REGION, discover_in, note_skipped};
use crate::cli::settings::{Settings, TargetRef};
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, ClusterArn, EksCluster, IdentityMode, POD_IDENTITY_AGENT_ADDON,
};
use crate::core::partition::{Partition, eks_endpoint_region};
use crate::core::pod_identity::PodIdentityAgent;
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubContext, HubRead};

/// Where to look for clusters: the regions named with `--region` (or the default region), and
/// with `--all-regions` every EKS region of the caller's partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Regions {
    all: Vec<String>,
    /// Named with --region: a refusal there fails the command.
    named: Vec<String>,
}

impl Regions {
    #[cfg(test)]
    pub(crate) fn for_tests(all: &[&str], named: &[&str]) -> Self {
        let owned = |list: &[&str]| list.iter().map(|r| (*r).to_owned()).collect();
        Regions {
            all: owned(all),
            named: owned(named),
        }
    }

    /// Whether a region that refuses the credentials is skipped with a note rather than
    /// failing: one that `--all-regions` added (an opt-in region the account has not enabled).
    pub(crate) fn may_skip(&self, region: &str) -> bool {
        !self.named.iter().any(|named| named == region)
    }
}

impl std::ops::Deref for Regions {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.all
    }
}

/// The regions to look in for clusters named without an ARN: `--region` flags, else the
/// default region; `--all-regions` adds every EKS region of their partition (of the default
/// region's, else the commercial one).
pub(crate) fn search_regions(
    flags: &[String],
    all_regions: bool,
    default_region: Option<&str>,
) -> Result<Regions> {
    let named: Vec<String> = if flags.is_empty() {
        default_region
            .filter(|_| !all_regions)
            .map(|region| vec![region.to_owned()])
            .unwrap_or_default()
    } else {
        flags.to_vec()
    };
    let mut all = named.clone();
    if all_regions {
        let partition =
            Partition::of_region(flags.first().map_or(default_region.unwrap_or(""), |r| r));
        all.extend(
            partition
                .eks_regions
                .iter()
                .filter(|region| !named.iter().any(|n| n == *region))
                .map(|region| (*region).to_owned()),
        );
    }
    if all.is_empty() {
        return Err(Error::usage(
            "no AWS region is set: pass --region REGION (or set AWS_REGION, or a region in your profile)",
        ));
    }
    Ok(Regions { all, named })
}

/// The value after `flag` in an argument list (`--flag value` or `--flag=value`).
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, arg)| {
        if arg == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

/// The hub's own EKS cluster: `--hub-cluster`, else an EKS ARN as context or cluster name (as
/// `aws eks update-kubeconfig` writes them), else `aws eks get-token --cluster-name`, else the
/// cluster in `regions` whose endpoint is the context's server.
pub(crate) async fn find_hub_cluster<E: EksRead>(
    context: &HubContext,
    eks: &E,
    flag: Option<&str>,
    regions: &Regions,
) -> Result<Option<ClusterArn>> {
    if let Some(arn) = hub_named_by_context(context, flag) {
        return Ok(Some(arn));
    }
    let (name, region) = match flag {
        Some(name) => (name.to_owned(), regions[0].clone()),
        None => match flag_value(&context.exec_args, "--cluster-name") {
            Some(name) => {
                let region = flag_value(&context.exec_args, "--region").unwrap_or(&regions[0]);
                (name.to_owned(), region.to_owned())
            }
            None => return hub_by_endpoint(context, eks, regions).await,
        },
    };
    match eks.describe_cluster(&region, &name).await? {
        Some(cluster) => Ok(Some(cluster.arn)),
        None => Err(Error::NotFound {
            what: format!("the hub's EKS cluster {name} (region {region})"),
            fix: "Pass --hub-cluster with the name of the EKS cluster Argo CD runs on, and --region with its region".into(),
        }),
    }
}

/// The hub's cluster when the kube context names it by ARN (as `aws eks update-kubeconfig`
/// writes it) and `--hub-cluster` does not name another: [`find_hub_cluster`]'s answer
/// without a request.
pub(crate) fn hub_named_by_context(context: &HubContext, flag: Option<&str>) -> Option<ClusterArn> {
    let arn = context.cluster_arn()?;
    match flag {
        Some(name) if arn.name != name => None,
        _ => Some(arn),
    }
}

/// The cluster whose endpoint is the kube context's server, if any is.
async fn hub_by_endpoint<E: EksRead>(
    context: &HubContext,
    eks: &E,
    regions: &Regions,
) -> Result<Option<ClusterArn>> {
    if eks_endpoint_region(&context.server).is_none() {
        return Ok(None);
    }
    let server = context.server.trim_end_matches('/');
    let clusters = discover_in(&[eks], regions, &|_| {}).await?;
    Ok(clusters
        .into_iter()
        .find(|cluster| cluster.endpoint.trim_end_matches('/') == server)
        .map(|cluster| cluster.arn))
}

/// The clusters a user named, in the order given: looked up concurrently, at most
/// [`DESCRIBE_PER_REGION`] ARNs at once per account and region, names each on its own.
pub(crate) async fn find_targets<E: EksRead>(
    accounts: &Accounts<E>,
    targets: &[TargetRef],
    regions: &Regions,
) -> Result<Vec<EksCluster>> {
    // By (account, region) of an ARN; names (looked up everywhere) in one group of their own.
    type Key<'t> = Option<(&'t str, &'t str)>;
    let mut groups: BTreeMap<Key<'_>, Vec<(usize, &TargetRef)>> = BTreeMap::new();
    for (index, target) in targets.iter().enumerate() {
        let key = match target {
            TargetRef::Arn(arn) => Some((arn.account.as_str(), arn.region.as_str())),
            TargetRef::Name(_) => None,
        };
        groups.entry(key).or_default().push((index, target));
    }
    let found = join_all(groups.into_values().map(|group| {
        stream::iter(group)
            .map(|(index, target)| async move {
                find_target(accounts, target, regions)
                    .await
                    .map(|cluster| (index, cluster))
            })
            .buffer_unordered(DESCRIBE_PER_REGION)
            .collect::<Vec<_>>()
    }))
    .await;
    let mut clusters: Vec<(usize, EksCluster)> =
        found.into_iter().flatten().collect::<Result<_>>()?;
    clusters.sort_by_key(|(index, _)| *index);
    Ok(clusters.into_iter().map(|(_, cluster)| cluster).collect())
}

/// The cluster a user named: an ARN in its own region and account, or a name looked up in
/// every account and region (it must be found exactly once).
pub(crate) async fn find_target<E: EksRead>(
    accounts: &Accounts<E>,
    target: &TargetRef,
    regions: &Regions,
) -> Result<EksCluster> {
    let cluster = match target {
        TargetRef::Arn(arn) => {
            let eks = accounts.for_account(&arn.account);
            match eks.describe_cluster(&arn.region, &arn.name).await? {
                Some(cluster) if cluster.arn == *arn => cluster,
                Some(cluster) => {
                    return Err(Error::NotFound {
                        what: format!("{arn} (these credentials see {} instead)", cluster.arn),
                        fix: format!(
                            "Reach account {} with --assume-role or --profile",
                            arn.account
                        ),
                    });
                }
                None => {
                    return Err(Error::NotFound {
                        what: format!("EKS cluster {arn}"),
                        fix: "Check the ARN, and reach its account with --profile or --assume-role"
                            .into(),
                    });
                }
            }
        }
        TargetRef::Name(name) => {
            let mut found: Vec<EksCluster> = Vec::new();
            let mut refused: Vec<(String, Error)> = Vec::new();
            let mut answered = false;
            // One DescribeCluster per account and region, all at once (one per region and
            // account is far below EKS's per-region rate limits).
            let lookups = join_all(accounts.iter().flat_map(|account| {
                regions.iter().map(move |region| async move {
                    (region.clone(), account.describe_cluster(region, name).await)
                })
            }))
            .await;
            for (region, cluster) in lookups {
                match cluster {
                    Ok(cluster) => {
                        answered = true;
                        found.extend(cluster.filter(|c| !found.iter().any(|f| f.arn == c.arn)));
                    }
                    Err(e) if e.is_credentials_refused() && regions.may_skip(&region) => {
                        refused.push((region, e));
                    }
                    Err(e) => return Err(e),
                }
            }
            if !answered && !refused.is_empty() {
                return Err(refused.swap_remove(0).1);
            }
            let mut skipped: Vec<String> = refused.into_iter().map(|(region, _)| region).collect();
            skipped.sort();
            skipped.dedup();
            note_skipped(&skipped);
            match found.len() {
                0 => {
                    return Err(Error::NotFound {
                        what: format!("EKS cluster {name} in {}", regions.join(", ")),
                        fix: "Pass --region with the cluster's region (or --all-regions), or give its ARN".into(),
                    });
                }
                1 => found.remove(0),
                _ => {
                    let arns: Vec<String> = found.iter().map(|c| c.arn.to_string()).collect();
                    return Err(Error::usage(format!(
                        "there are several clusters named {name} ({}); give the ARN of the one to register",
                        arns.join(", ")
                    )));
                }
            }
        }
    };
    if cluster.endpoint.is_empty() || cluster.ca_data.is_empty() {
        return Err(Error::usage(format!(
            "{} has no endpoint or CA yet (status {}); register it once it is ACTIVE",
            cluster.arn, cluster.status
        )));
    }
    Ok(cluster)
}

/// Whether the hub runs the EKS Pod Identity agent: as the add-on, built into EKS Auto Mode,
/// or as a DaemonSet kube-system/eks-pod-identity-agent; asked in that order, each only when
/// the one before did not say yes. None: cannot tell.
pub(crate) async fn pod_identity_agent<H: HubRead, E: EksRead>(
    hub: &H,
    eks: &E,
    cluster: &ClusterArn,
    described: Option<Option<&EksCluster>>,
) -> Option<PodIdentityAgent> {
    let addon = eks.has_addon(cluster, POD_IDENTITY_AGENT_ADDON).await.ok();
    agent_after_addon(hub, eks, cluster, described, addon).await
}

/// The rest of [`pod_identity_agent`] once the add-on was asked about (None: cannot tell).
async fn agent_after_addon<H: HubRead, E: EksRead>(
    hub: &H,
    eks: &E,
    cluster: &ClusterArn,
    described: Option<Option<&EksCluster>>,
    addon: Option<bool>,
) -> Option<PodIdentityAgent> {
    if addon == Some(true) {
        return Some(PodIdentityAgent::AddOn);
    }
    let auto_mode = match described {
        Some(cluster) => Some(cluster.is_some_and(|c| c.auto_mode)),
        None => eks
            .describe_cluster(&cluster.region, &cluster.name)
            .await
            .ok()
            .map(|c| c.is_some_and(|c| c.auto_mode)),
    };
    if auto_mode == Some(true) {
        return Some(PodIdentityAgent::AutoMode);
    }
    let daemon_set = hub
        .daemon_set_exists("kube-system", POD_IDENTITY_AGENT_ADDON)
        .await
        .ok();
    PodIdentityAgent::detect(addon, auto_mode, daemon_set)
}

/// `--identity auto`: pod identity when the hub is EKS and runs the agent, else IRSA; with the
/// agent as seen (None: not looked for, or cannot tell).
pub(crate) async fn auto_identity<H: HubRead, E: EksRead>(
    hub: &H,
    eks: &E,
    hub_cluster: Option<&ClusterArn>,
) -> Result<(IdentityMode, Option<PodIdentityAgent>)> {
    let Some(cluster) = hub_cluster else {
        return Ok((IdentityMode::Irsa, None));
    };
    // Refused the add-on read: auto cannot choose, and must not quietly pick IRSA instead.
    let addon = match eks.has_addon(cluster, POD_IDENTITY_AGENT_ADDON).await {
        Ok(found) => Some(found),
        Err(Error::PermissionDenied { what, source, .. }) => {
            return Err(Error::PermissionDenied {
                what: format!(
                    "{what} (--identity auto reads it to tell whether the hub runs the EKS Pod Identity agent)"
                ),
                fix: "Give the caller eks:DescribeAddon, or choose the mode yourself with --identity pod-identity or --identity irsa".into(),
                source,
            });
        }
        Err(_) => None,
    };
    let agent = agent_after_addon(hub, eks, cluster, None, addon).await;
    Ok(match agent {
        Some(seen) if seen.present() => (IdentityMode::PodIdentity, agent),
        _ => (IdentityMode::Irsa, agent),
    })
}

/// Argo CD's namespace: `--argocd-namespace`, else `argocd`, else the one namespace that has
/// Argo CD's application controller service account.
pub(crate) async fn argocd_namespace<H: HubRead>(hub: &H, settings: &Settings) -> Result<String> {
    let default = &settings.argocd_namespace;
    if settings.argocd_namespace_given {
        return Ok(default.clone());
    }
    let controller = ARGOCD_SERVICE_ACCOUNTS[0].0;
    if hub
        .service_accounts(default)
        .await?
        .iter()
        .any(|sa| sa.name == controller)
    {
        return Ok(default.clone());
    }
    let found = hub.namespaces_with_service_account(controller).await?;
    match found.as_slice() {
        [only] => {
            eprintln!("Argo CD found in namespace {only} (not {default}).");
            Ok(only.clone())
        }
        [] => Ok(default.clone()),
        several => Err(Error::usage(format!(
            "Argo CD seems installed in several namespaces ({}); pass --argocd-namespace",
            several.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_in_exec_args() {
        let args: Vec<String> = [
            "aws",
            "--region",
            "eu-west-1",
            "eks",
            "get-token",
            "--cluster-name=hub",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(flag_value(&args, "--region"), Some("eu-west-1"));
        assert_eq!(flag_value(&args, "--cluster-name"), Some("hub"));
        assert_eq!(flag_value(&args, "--profile"), None);
    }

    #[test]
    fn search_regions_prefers_flags_then_default() {
        assert_eq!(
            *search_regions(&["eu-west-1".into()], false, Some("us-east-1")).unwrap(),
            ["eu-west-1"]
        );
        assert_eq!(
            *search_regions(&[], false, Some("us-east-1")).unwrap(),
            ["us-east-1"]
        );
        assert!(
            matches!(search_regions(&[], false, None), Err(Error::Usage(m)) if m.contains("--region"))
        );
    }

    #[test]
    fn all_regions_are_those_of_the_callers_partition() {
        let commercial = search_regions(&[], true, Some("eu-west-1")).unwrap();
        assert!(commercial.contains(&"ap-southeast-6".to_owned()));
        assert!(!commercial.contains(&"cn-north-1".to_owned()));
        assert!(commercial.may_skip("ap-east-2") && commercial.may_skip("eu-west-1"));
        let china = search_regions(&[], true, Some("cn-northwest-1")).unwrap();
        assert_eq!(*china, ["cn-north-1", "cn-northwest-1"]);
        let gov = search_regions(&["us-gov-west-1".into()], true, None).unwrap();
        assert_eq!(*gov, ["us-gov-west-1", "us-gov-east-1"]);
        assert!(!gov.may_skip("us-gov-west-1") && gov.may_skip("us-gov-east-1"));
        assert_eq!(search_regions(&[], true, None).unwrap().len(), 34);
    }
}
