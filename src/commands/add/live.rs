//! Guided discovery behind the picker: discovery runs while the hub's facts are read and while
//! the picker is open; the picker opens once every region has listed its clusters, its rows
//! filled in as DescribeCluster answers arrive; once the user has picked, only the picked
//! clusters' describes are waited for.

use std::future::Future;
use std::pin::Pin;

use futures::future::{Either, select};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::cli::output::Spinner;
use crate::commands::accounts::Accounts;
use crate::commands::discovery::{
    DESCRIBE_PER_REGION, Discovered, Found, discover_quietly, note_skipped,
};
use crate::commands::targets::Regions;
use crate::core::model::{ClusterArn, EksCluster};
use crate::error::{Error, Result};
use crate::ports::{EksRead, IamRead};

use super::live_rows::{Fleet, Key, Row, placeholder};

type Discovery<'a> = Pin<Box<dyn Future<Output = Result<Found>> + 'a>>;

/// Discovery running behind whatever the guided flow awaits.
pub(super) struct Live<'a> {
    pub(super) fleet: &'a Fleet,
    regions: &'a Regions,
    discovery: Option<Discovery<'a>>,
    spinner: Option<Spinner>,
    skipped: Vec<String>,
}

impl Drop for Live<'_> {
    /// An error before the picker opened: the spinner goes.
    fn drop(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish();
        }
    }
}

impl<'a> Live<'a> {
    /// Discovery starts (it runs only while something is awaited through [`Live::beside`]).
    pub(super) fn start<E: EksRead + IamRead>(
        accounts: &'a Accounts<E>,
        regions: &'a Regions,
        fleet: &'a Fleet,
    ) -> Self {
        let spinner = Spinner::start(&format!(
            "Looking for EKS clusters in {} region(s), {} account(s)",
            regions.len(),
            accounts.count()
        ));
        // Who the caller is (the account of its own rows) is asked beside the lists, after
        // them: AssumeRole, the longest chain, goes out first (discovery.rs).
        let discovery = Box::pin(async move {
            let clients: Vec<&E> = accounts.iter().collect();
            let caller = async {
                let caller = accounts.own().caller().await?;
                fleet.set_caller(&caller.account, caller.partition());
                Ok(())
            };
            let progress = |event: Discovered<'_>| fleet.record(event);
            let discovery = discover_quietly(&clients, regions, &progress);
            futures::try_join!(discovery, caller).map(|(found, ())| found)
        });
        Live {
            fleet,
            regions,
            discovery: Some(discovery),
            spinner: Some(spinner),
            skipped: Vec::new(),
        }
    }

    /// `work`, while discovery goes on beside it; an error of discovery ends `work`. `work`
    /// is polled first: the picker is drawn before discovery sends what comes next.
    pub(super) async fn beside<T>(&mut self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let work = std::pin::pin!(work);
        let Some(discovery) = self.discovery.as_mut() else {
            return work.await;
        };
        match select(work, discovery).await {
            Either::Left((result, _)) => result,
            Either::Right((found, work)) => {
                self.discovery = None;
                self.fleet.ended();
                let found = found?;
                // What TAB offers for `add CLUSTER` for a while.
                crate::adapters::local::remember_discovery(&found.clusters);
                self.skipped = found.skipped;
                work.await
            }
        }
    }

    /// Once every region has listed its clusters (an error if none has any), the spinner gone.
    pub(super) async fn listed(&mut self) -> Result<()> {
        let fleet = self.fleet;
        self.beside(fleet.listed()).await?;
        if fleet.is_empty() {
            // Nothing to describe: discovery is about done (it may still skip regions).
            self.beside(async {
                while fleet.running.get() {
                    fleet.changed.notified().await;
                }
                Ok(())
            })
            .await?;
            return Err(Error::NotFound {
                what: format!("any EKS cluster in {}", self.regions.join(", ")),
                fix:
                    "Pass --region (or --all-regions), --profile or --assume-role to look elsewhere"
                        .into(),
            });
        }
        if let Some(spinner) = self.spinner.take() {
            spinner.finish();
        }
        // What TAB offers for `add CLUSTER` for a while: every name, described or not.
        let listed: Vec<EksCluster> = fleet
            .order()
            .into_iter()
            .filter_map(|(arn, _, row)| match row {
                Row::Described(cluster) => Some(*cluster),
                Row::Listed => Some(placeholder(arn, false)),
                Row::Gone => None,
            })
            .collect();
        crate::adapters::local::remember_discovery(&listed);
        Ok(())
    }

    /// The regions skipped, noted once (when no picker is open).
    pub(super) fn note_skipped(&mut self) {
        note_skipped(&std::mem::take(&mut self.skipped));
    }

    /// The clusters of `picked` (rows of the picker), each described: the rows described
    /// already, the others asked for now (beside discovery); None for one that is gone.
    pub(super) async fn described<E: EksRead>(
        &mut self,
        accounts: &Accounts<E>,
        picked: &[usize],
    ) -> Result<Vec<(ClusterArn, Option<EksCluster>)>> {
        let order = self.fleet.order();
        let chosen: Vec<&(ClusterArn, Key, Row)> =
            picked.iter().filter_map(|i| order.get(*i)).collect();
        let clients: Vec<&E> = accounts.iter().collect();
        let fleet = self.fleet;
        let asks = stream::iter(chosen)
            .map(|(arn, key, row)| {
                let eks = clients.get(key.0).copied();
                async move {
                    let cluster = match (row, eks) {
                        (Row::Described(cluster), _) => Some((**cluster).clone()),
                        (Row::Gone, _) | (Row::Listed, None) => None,
                        (Row::Listed, Some(eks)) => {
                            let found = eks.describe_cluster(&key.1, &key.2).await?;
                            match &found {
                                Some(cluster) => fleet.record(Discovered::Described {
                                    account: key.0,
                                    cluster,
                                }),
                                None => fleet.record(Discovered::Gone {
                                    account: key.0,
                                    region: &key.1,
                                    name: &key.2,
                                }),
                            }
                            found
                        }
                    };
                    Ok::<_, Error>((arn.clone(), cluster))
                }
            })
            .buffered(DESCRIBE_PER_REGION)
            .try_collect::<Vec<_>>();
        self.beside(asks).await
    }
}
