//! The guided picker's rows while discovery runs: each cluster listed, described or gone,
//! its mark (the hub, registered), and the note of how many are still being described.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::Notify;

use crate::cli::picker::{Mark, cluster_table};
use crate::commands::discovery::Discovered;
use crate::core::model::{ClusterArn, EksCluster};
use crate::error::Result;
use crate::ports::{LiveRows, PickList};

/// A listed cluster: which account (discovery's index), region, name.
pub(super) type Key = (usize, String, String);

#[derive(Debug, Clone)]
pub(super) enum Row {
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
    pub(super) running: Cell<bool>,
    /// What the marks come from: the hub's ARN or server, the servers of the hub's Secrets.
    hub: RefCell<Option<ClusterArn>>,
    hub_server: String,
    registered: RefCell<Vec<String>>,
    /// The rows picked before (Esc came back to the picker).
    picked: RefCell<Vec<ClusterArn>>,
    pub(super) changed: Notify,
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
    pub(super) fn record(&self, event: Discovered<'_>) {
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

    pub(super) fn settle(&self, rows: &mut BTreeMap<Key, Row>, key: Key, row: Row) {
        if let Some(Row::Listed) = rows.insert(key, row) {
            self.undescribed.set(self.undescribed.get() - 1);
        }
    }

    /// Discovery ended: no more changes.
    pub(super) fn ended(&self) {
        self.running.set(false);
        self.changed.notify_one();
    }

    /// Who the caller is (its account id and partition, for the caller's own rows).
    pub(super) fn set_caller(&self, account: &str, partition: &str) {
        if let Some(own) = self.ids.borrow_mut().first_mut() {
            *own = Some(account.to_owned());
        }
        partition.clone_into(&mut self.partition.borrow_mut());
        self.changed.notify_one();
    }

    pub(super) fn caller_known(&self) -> bool {
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

    pub(super) fn arn(&self, (account, region, name): &Key) -> ClusterArn {
        let ids = self.ids.borrow();
        let id = ids.get(*account).cloned().flatten().unwrap_or_default();
        ClusterArn::new(&self.partition.borrow(), region, &id, name)
    }

    /// The rows in the picker's order (by ARN, as discovery sorts).
    pub(super) fn order(&self) -> Vec<(ClusterArn, Key, Row)> {
        let mut rows: Vec<(ClusterArn, Key, Row)> = self
            .rows
            .borrow()
            .iter()
            .map(|(key, row)| (self.arn(key), key.clone(), row.clone()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    pub(super) fn mark(&self, arn: &ClusterArn, row: &Row) -> Mark {
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
    pub(super) async fn listed(&self) -> Result<()> {
        while !(self.all_listed.get() && self.caller_known()) {
            self.changed.notified().await;
        }
        Ok(())
    }
}

/// A row not described yet: `…` for version and status.
pub(super) fn placeholder(arn: ClusterArn, gone: bool) -> EksCluster {
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
