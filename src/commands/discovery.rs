//! Discovery: every cluster the run's accounts can see in the search regions, all accounts and
//! regions at once: every region's ListClusters first, then each cluster described.
//!
//! The longest chain of dependent calls is what a user waits for: the assumed role's
//! credentials (the SDK fetches them on an account's first call, once for all its regions),
//! the pages of ListClusters (then the guided picker opens, with every name), then one
//! DescribeCluster per cluster (its rows fill in). The describes wait for the last region's
//! list: they would otherwise go out beside the lists still running and, on a server that
//! answers one request at a time (the sandbox's moto), hold them back and the picker with
//! them; on EKS it costs the rows at most the lists' spread between regions. Within one
//! account and region at most [`DESCRIBE_PER_REGION`] DescribeCluster calls are in flight,
//! since EKS throttles per account and region (a throttled call is retried by the SDK's retry
//! mode, with back-off).

use std::cell::Cell;

use tokio::sync::Notify;

use futures::future::join_all;
use futures::stream::{self, StreamExt, TryStreamExt};

#[cfg(test)]
use super::accounts::Accounts;
use super::targets::Regions;
use crate::core::model::EksCluster;
use crate::error::{Error, Result};
use crate::ports::EksRead;

/// How many DescribeCluster calls discovery keeps in flight per account and region.
pub(crate) const DESCRIBE_PER_REGION: usize = 10;

/// What discovery has found so far, in the order the answers arrive: what a picker can show
/// before everything is described.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Discovered<'a> {
    /// One account's ListClusters in `region` answered (all pages) with these names;
    /// `account`: which of the accounts searched (their order).
    Listed {
        account: usize,
        region: &'a str,
        names: &'a [String],
    },
    /// Every region of every account has answered ListClusters (or refused).
    AllListed { clusters: usize },
    /// One cluster, described.
    Described {
        account: usize,
        cluster: &'a EksCluster,
    },
    /// DescribeCluster says a listed cluster no longer exists.
    Gone {
        account: usize,
        region: &'a str,
        name: &'a str,
    },
}

/// What discovery found: the clusters, and the regions skipped for refusing the credentials.
pub(crate) struct Found {
    pub(crate) clusters: Vec<EksCluster>,
    pub(crate) skipped: Vec<String>,
}

/// Says which regions were left out because they refused the credentials.
pub(crate) fn note_skipped(skipped: &[String]) {
    if !skipped.is_empty() {
        eprintln!(
            "Skipped {} region(s) that refuse these credentials (opt-in regions not enabled for the account?): {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
}

/// The lists still out, the names they gave, and the moment the last one answers.
struct Lists {
    left: Cell<usize>,
    names: Cell<usize>,
    all_in: Notify,
}

impl Lists {
    /// Resolves once every region has listed (a `Notified` hears `notify_waiters` from the
    /// moment it is made).
    async fn all_in(&self) {
        loop {
            let all_in = self.all_in.notified();
            if self.left.get() == 0 {
                return;
            }
            all_in.await;
        }
    }
}

/// One account's one region: ListClusters, then, once every region has listed, each name
/// described; Err(refusal) stays apart from the other errors so the caller may skip the region.
async fn region_clusters<E: EksRead>(
    (account, eks): (usize, &E),
    region: &str,
    lists: &Lists,
    progress: &dyn Fn(Discovered<'_>),
) -> Result<Vec<EksCluster>> {
    let names = eks.list_clusters(region).await;
    lists.left.set(lists.left.get() - 1);
    if let Ok(names) = &names {
        lists.names.set(lists.names.get() + names.len());
        progress(Discovered::Listed {
            account,
            region,
            names,
        });
    }
    if lists.left.get() == 0 {
        progress(Discovered::AllListed {
            clusters: lists.names.get(),
        });
        lists.all_in.notify_waiters();
    }
    let names = names?;
    lists.all_in().await;
    // Whatever waited for the names (the picker) goes first.
    tokio::task::yield_now().await;
    stream::iter(&names)
        .map(|name| async move {
            let cluster = eks.describe_cluster(region, name).await?;
            match &cluster {
                Some(cluster) => progress(Discovered::Described { account, cluster }),
                None => progress(Discovered::Gone {
                    account,
                    region,
                    name,
                }),
            }
            Ok::<_, Error>(cluster)
        })
        .buffer_unordered(DESCRIBE_PER_REGION)
        .try_filter_map(|cluster| async move { Ok(cluster) })
        .try_collect()
        .await
}

/// Every cluster `accounts` can see in `regions`, sorted by ARN, with no ARN twice. A region
/// `--all-regions` added that refuses an account's credentials is skipped with a note, unless
/// every region refuses that account (then its credentials are the problem).
#[cfg(test)]
pub(crate) async fn discover<E: EksRead>(
    accounts: &Accounts<E>,
    regions: &Regions,
    progress: &dyn Fn(Discovered<'_>),
) -> Result<Vec<EksCluster>> {
    discover_in(&accounts.iter().collect::<Vec<_>>(), regions, progress).await
}

/// [`discover`] over some accounts' clients.
pub(crate) async fn discover_in<E: EksRead>(
    accounts: &[&E],
    regions: &Regions,
    progress: &dyn Fn(Discovered<'_>),
) -> Result<Vec<EksCluster>> {
    let found = discover_quietly(accounts, regions, progress).await?;
    note_skipped(&found.skipped);
    Ok(found.clusters)
}

/// [`discover_in`], the regions skipped returned instead of noted (a picker may be open).
pub(crate) async fn discover_quietly<E: EksRead>(
    accounts: &[&E],
    regions: &Regions,
    progress: &dyn Fn(Discovered<'_>),
) -> Result<Found> {
    let lists = &Lists {
        left: Cell::new(accounts.len() * regions.len()),
        names: Cell::new(0),
        all_in: Notify::new(),
    };
    // The caller's own account (the first) goes out last: the other accounts' lists wait for
    // STS's AssumeRole, the longest chain, so that is sent before anything else (a server that
    // answers in arrival order, as the sandbox's moto does, would put it behind them all).
    let assumed_first = (1..accounts.len()).chain((!accounts.is_empty()).then_some(0));
    let per_account = assumed_first.map(|account| {
        let eks = accounts[account];
        async move {
            let answers = join_all(regions.iter().map(|region| async move {
                let found = region_clusters((account, eks), region, lists, progress).await;
                (region.as_str(), found)
            }))
            .await;
            (account, answers)
        }
    });
    let mut per_account = join_all(per_account).await;
    per_account.sort_by_key(|(account, _)| *account);
    let mut clusters = Vec::new();
    let mut skipped = Vec::new();
    for (_, answers) in per_account {
        let mut refused: Vec<(&str, Error)> = Vec::new();
        let mut answered = false;
        for (region, found) in answers {
            match found {
                Ok(found) => {
                    answered = true;
                    clusters.extend(found);
                }
                Err(e) if e.is_credentials_refused() && regions.may_skip(region) => {
                    refused.push((region, e));
                }
                Err(e) => return Err(e),
            }
        }
        if !answered && !refused.is_empty() {
            return Err(refused.swap_remove(0).1);
        }
        skipped.extend(refused.into_iter().map(|(region, _)| region.to_owned()));
    }
    skipped.sort();
    skipped.dedup();
    clusters.sort_by(|a, b| a.arn.cmp(&b.arn));
    clusters.dedup_by(|a, b| a.arn == b.arn);
    Ok(Found { clusters, skipped })
}

#[cfg(test)]
mod tests;
