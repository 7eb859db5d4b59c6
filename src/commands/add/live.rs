//! Guided discovery behind the picker: discovery runs while the hub's facts are read and while
//! the picker is open; the picker opens once every region has listed its clusters, its rows
//! filled in as DescribeCluster answers arrive; once the user has picked, only the picked
//! clusters' describes are waited for.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures::future::{Either, select};
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::Notify;

use crate::cli::output::Spinner;
use crate::cli::picker::{Mark, cluster_table};
use crate::commands::accounts::Accounts;
use crate::commands::discovery::{
    DESCRIBE_PER_REGION, Discovered, Found, discover_quietly, note_skipped,
};
use crate::commands::targets::Regions;
use crate::core::model::{ClusterArn, EksCluster};
use crate::error::{Error, Result};
use crate::ports::{EksRead, IamRead, LiveRows, PickList};

/// A listed cluster: which account (discovery's index), region, name.
type Key = (usize, String, String);

#[derive(Debug, Clone)]
enum Row {
    Listed,
    Described(Box<EksCluster>),
    Gone,
}

/// What discovery found so far, as the picker shows it.
pub(super) struct Fleet {
    started: Instant,
    rows: RefCell<BTreeMap<Key, Row>>,
    /// Account ids by discovery's index: the caller's own (None until known), then the
    /// assumed roles' accounts.
    ids: RefCell<Vec<Option<String>>>,
    partition: RefCell<String>,
    all_listed: Cell<bool>,
    undescribed: Cell<usize>,
    /// Discovery has not ended.
    running: Cell<bool>,
    /// What the marks come from: the hub's ARN or server, the servers of the hub's Secrets.
    hub: RefCell<Option<ClusterArn>>,
    hub_server: String,
    registered: RefCell<Vec<String>>,
    /// The rows picked before (Esc came back to the picker).
    picked: RefCell<Vec<ClusterArn>>,
    changed: Notify,
}

impl Fleet {
    /// `assumed`: the account ids of the assumed roles, in their order; `hub_server`: the
    /// kube context's server.
    pub(super) fn new<'a>(assumed: impl Iterator<Item = &'a str>, hub_server: &str) -> Self {
        Fleet {
            started: Instant::now(),
            rows: RefCell::default(),
            ids: RefCell::new(
                std::iter::once(None)
                    .chain(assumed.map(|id| Some(id.to_owned())))
                    .collect(),
            ),
            partition: RefCell::new("aws".into()),
            all_listed: Cell::new(false),
            undescribed: Cell::new(0),
            running: Cell::new(true),
            hub: RefCell::default(),
            hub_server: hub_server.trim_end_matches('/').to_owned(),
            registered: RefCell::default(),
            picked: RefCell::default(),
            changed: Notify::new(),
        }
    }

    /// Milliseconds since discovery started.
    pub(super) fn ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }

    /// One answer of discovery (the -v events as before: at -v every region listed and every
    /// cluster described, at -vv each region's list, at -vvv each cluster).
    fn record(&self, event: Discovered<'_>) {
        let mut rows = self.rows.borrow_mut();
        match event {
            Discovered::Listed {
                account,
                region,
                names,
            } => {
                tracing::debug!(region, clusters = names.len(), "discovery: listed");
                for name in names {
                    let key = (account, region.to_owned(), name.clone());
                    if rows.insert(key, Row::Listed).is_none() {
                        self.undescribed.set(self.undescribed.get() + 1);
                    }
                }
            }
            Discovered::AllListed { clusters } => {
                tracing::info!(clusters, ms = self.ms(), "discovery: every region listed");
                self.all_listed.set(true);
            }
            Discovered::Described { account, cluster } => {
                tracing::trace!(cluster = %cluster.arn, "discovery: described");
                let key = (
                    account,
                    cluster.arn.region.clone(),
                    cluster.arn.name.clone(),
                );
                self.settle(&mut rows, key, Row::Described(Box::new(cluster.clone())));
            }
            Discovered::Gone {
                account,
                region,
                name,
            } => {
                let key = (account, region.to_owned(), name.to_owned());
                self.settle(&mut rows, key, Row::Gone);
            }
        }
        drop(rows);
        if self.all_listed.get() && self.undescribed.get() == 0 && self.running.get() {
            tracing::info!(
                clusters = self.rows.borrow().len(),
                ms = self.ms(),
                "discovery: every cluster described"
            );
            self.running.set(false);
        }
        self.changed.notify_one();
    }

    fn settle(&self, rows: &mut BTreeMap<Key, Row>, key: Key, row: Row) {
        if let Some(Row::Listed) = rows.insert(key, row) {
            self.undescribed.set(self.undescribed.get() - 1);
        }
    }

    /// Discovery ended: no more changes.
    fn ended(&self) {
        self.running.set(false);
        self.changed.notify_one();
    }

    /// Who the caller is (its account id and partition, for the caller's own rows).
    fn set_caller(&self, account: &str, partition: &str) {
        if let Some(own) = self.ids.borrow_mut().first_mut() {
            *own = Some(account.to_owned());
        }
        partition.clone_into(&mut self.partition.borrow_mut());
        self.changed.notify_one();
    }

    fn caller_known(&self) -> bool {
        self.ids.borrow().first().is_some_and(Option::is_some)
    }

    /// The hub's EKS cluster if known, and the servers of the hub's cluster Secrets.
    pub(super) fn set_marks(&self, hub: Option<&ClusterArn>, registered: Vec<String>) {
        *self.hub.borrow_mut() = hub.cloned();
        *self.registered.borrow_mut() = registered;
    }

    pub(super) fn set_picked(&self, before: &[EksCluster]) {
        *self.picked.borrow_mut() = before.iter().map(|c| c.arn.clone()).collect();
    }

    fn arn(&self, (account, region, name): &Key) -> ClusterArn {
        let ids = self.ids.borrow();
        let id = ids.get(*account).cloned().flatten().unwrap_or_default();
        ClusterArn::new(&self.partition.borrow(), region, &id, name)
    }

    /// The rows in the picker's order (by ARN, as discovery sorts).
    fn order(&self) -> Vec<(ClusterArn, Key, Row)> {
        let mut rows: Vec<(ClusterArn, Key, Row)> = self
            .rows
            .borrow()
            .iter()
            .map(|(key, row)| (self.arn(key), key.clone(), row.clone()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    fn mark(&self, arn: &ClusterArn, row: &Row) -> Mark {
        let hub = self.hub.borrow();
        let endpoint = match row {
            Row::Gone => return Mark::Gone,
            Row::Described(cluster) => Some(cluster.endpoint.trim_end_matches('/')),
            Row::Listed => None,
        };
        if endpoint.is_some_and(|e| self.registered.borrow().iter().any(|r| r == e)) {
            Mark::Registered
        } else if hub
            .as_ref()
            .map_or(endpoint == Some(&*self.hub_server), |h| h == arn)
        {
            // The hub by its ARN when known: other clusters may share its endpoint (a proxy).
            Mark::Hub
        } else {
            Mark::None
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.borrow().is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.rows.borrow().len()
    }

    /// Resolves once every region has listed its clusters and the caller's account is known.
    async fn listed(&self) -> Result<()> {
        while !(self.all_listed.get() && self.caller_known()) {
            self.changed.notified().await;
        }
        Ok(())
    }
}

/// A row not described yet: `…` for version and status.
fn placeholder(arn: ClusterArn, gone: bool) -> EksCluster {
    let shown = if gone { "-" } else { "\u{2026}" };
    EksCluster {
        arn,
        endpoint: String::new(),
        ca_data: String::new(),
        status: shown.into(),
        version: Some(shown.into()),
        oidc_issuer: None,
        authentication_mode: None,
        auto_mode: false,
        tags: BTreeMap::new(),
    }
}

impl LiveRows for Fleet {
    fn rows(&self, width: usize) -> PickList {
        let rows: Vec<(EksCluster, Mark)> = self
            .order()
            .into_iter()
            .map(|(arn, _, row)| {
                let mark = self.mark(&arn, &row);
                let cluster = match row {
                    Row::Described(cluster) => *cluster,
                    Row::Listed => placeholder(arn, false),
                    Row::Gone => placeholder(arn, true),
                };
                (cluster, mark)
            })
            .collect();
        let refs: Vec<(&EksCluster, Mark)> = rows.iter().map(|(c, m)| (c, *m)).collect();
        let mut list = cluster_table(&refs, width);
        let picked = self.picked.borrow();
        list.picked = rows
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| picked.contains(&c.arn))
            .map(|(i, _)| i)
            .collect();
        let left = self.undescribed.get();
        if left > 0 {
            list.note = if self.running.get() {
                format!(
                    "{left} of {} clusters still being described\u{2026}",
                    rows.len()
                )
            } else {
                format!(
                    "{left} of {} clusters not described yet (a picked one is, once accepted)",
                    rows.len()
                )
            };
        }
        list
    }

    fn changing(&self) -> bool {
        self.running.get() && self.undescribed.get() > 0
    }

    async fn changed(&self) {
        self.changed.notified().await;
    }
}

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
        // Who the caller is (the account of its own rows) is asked beside the lists.
        let discovery = Box::pin(async move {
            let clients: Vec<&E> = accounts.iter().collect();
            let caller = async {
                let caller = accounts.own().caller().await?;
                fleet.set_caller(&caller.account, caller.partition());
                Ok(())
            };
            let progress = |event: Discovered<'_>| fleet.record(event);
            let discovery = discover_quietly(&clients, regions, &progress);
            futures::try_join!(caller, discovery).map(|((), found)| found)
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
