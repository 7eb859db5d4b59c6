//! Finding clusters for `add`: the hub's own EKS cluster, named targets, and discovery across
//! accounts and regions (one bounded concurrent fan-out).

use futures::stream::{self, StreamExt};

use super::accounts::Accounts;
use crate::cli::settings::{Settings, TargetRef};
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, ClusterArn, EksCluster, IdentityMode, POD_IDENTITY_AGENT_ADDON,
};
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubContext, HubRead};

/// How many EKS calls discovery keeps in flight at once.
const DISCOVERY_CONCURRENCY: usize = 8;

/// The regions to look in for clusters named without an ARN.
pub fn search_regions(flags: &[String], default_region: Option<&str>) -> Result<Vec<String>> {
    if !flags.is_empty() {
        return Ok(flags.to_vec());
    }
    default_region
        .map(|region| vec![region.to_owned()])
        .ok_or_else(|| {
            Error::usage(
                "no AWS region is set: pass --region REGION (or set AWS_REGION, or a region in your profile)",
            )
        })
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
pub async fn find_hub_cluster<E: EksRead>(
    context: &HubContext,
    eks: &E,
    flag: Option<&str>,
    regions: &[String],
) -> Result<Option<ClusterArn>> {
    let from_context = ClusterArn::parse(&context.context)
        .or_else(|_| ClusterArn::parse(&context.cluster))
        .ok();
    let (name, region) = match (flag, &from_context) {
        (None, Some(arn)) => return Ok(Some(arn.clone())),
        (Some(name), Some(arn)) if arn.name == name => return Ok(Some(arn.clone())),
        (Some(name), _) => (name.to_owned(), regions[0].clone()),
        (None, None) => match flag_value(&context.exec_args, "--cluster-name") {
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

/// The cluster whose endpoint is the kube context's server, if any is.
async fn hub_by_endpoint<E: EksRead>(
    context: &HubContext,
    eks: &E,
    regions: &[String],
) -> Result<Option<ClusterArn>> {
    if !context.server.contains(".eks.amazonaws.com") {
        return Ok(None);
    }
    let server = context.server.trim_end_matches('/');
    let clusters = describe_all(eks, regions).await?;
    Ok(clusters
        .into_iter()
        .find(|cluster| cluster.endpoint.trim_end_matches('/') == server)
        .map(|cluster| cluster.arn))
}

/// Every cluster in `regions`, described; ListClusters and DescribeCluster run concurrently.
async fn describe_all<E: EksRead>(eks: &E, regions: &[String]) -> Result<Vec<EksCluster>> {
    let names: Vec<(String, Vec<String>)> =
        stream::iter(regions)
            .map(|region| async move {
                Ok::<_, Error>((region.clone(), eks.list_clusters(region).await?))
            })
            .buffer_unordered(DISCOVERY_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
    let pairs: Vec<(String, String)> = names
        .into_iter()
        .flat_map(|(region, names)| names.into_iter().map(move |name| (region.clone(), name)))
        .collect();
    let described: Vec<Option<EksCluster>> = stream::iter(&pairs)
        .map(|(region, name)| eks.describe_cluster(region, name))
        .buffer_unordered(DISCOVERY_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let mut clusters: Vec<EksCluster> = described.into_iter().flatten().collect();
    clusters.sort_by(|a, b| a.arn.cmp(&b.arn));
    Ok(clusters)
}

/// Every cluster every account can see in `regions`.
pub async fn discover<E: EksRead>(
    accounts: &Accounts<E>,
    regions: &[String],
) -> Result<Vec<EksCluster>> {
    let mut clusters = Vec::new();
    for account in accounts.iter() {
        clusters.extend(describe_all(account, regions).await?);
    }
    clusters.dedup_by(|a, b| a.arn == b.arn);
    Ok(clusters)
}

/// The cluster a user named: an ARN in its own region and account, or a name looked up in
/// every account and region (it must be found exactly once).
pub async fn find_target<E: EksRead>(
    accounts: &Accounts<E>,
    target: &TargetRef,
    regions: &[String],
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
            for account in accounts.iter() {
                let lookups = stream::iter(regions)
                    .map(|region| account.describe_cluster(region, name))
                    .buffer_unordered(DISCOVERY_CONCURRENCY)
                    .collect::<Vec<_>>()
                    .await;
                for cluster in lookups {
                    found.extend(cluster?.filter(|c| !found.iter().any(|f| f.arn == c.arn)));
                }
            }
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

/// `--identity auto`: pod identity when the hub is EKS and has the agent, else IRSA.
pub async fn auto_identity<E: EksRead>(
    eks: &E,
    hub_cluster: Option<&ClusterArn>,
) -> Result<IdentityMode> {
    match hub_cluster {
        Some(cluster) if eks.has_addon(cluster, POD_IDENTITY_AGENT_ADDON).await? => {
            Ok(IdentityMode::PodIdentity)
        }
        _ => Ok(IdentityMode::Irsa),
    }
}

/// Argo CD's namespace: `--argocd-namespace`, else `argocd`, else the one namespace that has
/// Argo CD's application controller service account.
pub async fn argocd_namespace<H: HubRead>(hub: &H, settings: &Settings) -> Result<String> {
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
            search_regions(&["eu-west-1".into()], Some("us-east-1")).unwrap(),
            vec!["eu-west-1"]
        );
        assert_eq!(
            search_regions(&[], Some("us-east-1")).unwrap(),
            vec!["us-east-1"]
        );
        assert!(
            matches!(search_regions(&[], None), Err(Error::Usage(m)) if m.contains("--region"))
        );
    }
}
