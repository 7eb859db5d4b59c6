//! Discovery's concurrency against in-memory accounts whose every call takes the same
//! (virtual) time: the wait is the longest chain of dependent calls, and the bound per account
//! and region holds.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::commands::targets::search_regions;
use crate::core::model::{AccessEntry, ClusterArn, PodIdentityAssociation};
use crate::testing::{FakeAws, eks_cluster};

/// One round trip.
const RTT: Duration = Duration::from_millis(50);

/// An account whose calls each take one round trip (tokio's paused clock), counting what is in
/// flight per region.
struct Slow {
    account: String,
    aws: FakeAws,
    /// Regions whose ListClusters refuses the credentials (an opt-in region not enabled).
    refusing: Vec<String>,
    /// Regions whose ListClusters takes this many round trips (pages) instead of one.
    pages: BTreeMap<String, u32>,
    in_flight: RefCell<BTreeMap<String, usize>>,
    most: RefCell<BTreeMap<String, usize>>,
    calls: RefCell<usize>,
}

impl Slow {
    fn new(account: &str, regions: &[&str], per_region: usize) -> Self {
        let clusters = regions
            .iter()
            .flat_map(|region| {
                (0..per_region).map(move |i| eks_cluster(account, region, &format!("c{i}")))
            })
            .collect();
        Slow {
            account: account.to_owned(),
            aws: FakeAws::in_account(account, clusters),
            refusing: Vec::new(),
            pages: BTreeMap::new(),
            in_flight: RefCell::default(),
            most: RefCell::default(),
            calls: RefCell::new(0),
        }
    }

    async fn round_trip(&self, region: &str) {
        *self.calls.borrow_mut() += 1;
        let now = {
            let mut in_flight = self.in_flight.borrow_mut();
            let n = in_flight.entry(region.to_owned()).or_default();
            *n += 1;
            *n
        };
        {
            let mut most = self.most.borrow_mut();
            let top = most.entry(region.to_owned()).or_default();
            *top = (*top).max(now);
        }
        tokio::time::sleep(RTT).await;
        *self.in_flight.borrow_mut().get_mut(region).unwrap() -= 1;
    }
}

impl EksRead for Slow {
    async fn list_clusters(&self, region: &str) -> Result<Vec<String>> {
        LISTS_SENT.with(|sent| sent.borrow_mut().push(self.account.clone()));
        for _ in 0..*self.pages.get(region).unwrap_or(&1) {
            self.round_trip(&format!("{region} list")).await;
        }
        if self.refusing.iter().any(|r| r == region) {
            return Err(Error::CredentialsRefused {
                at: format!("EKS in {region}"),
                message: "UnrecognizedClientException".into(),
                source: Box::new(std::io::Error::other("refused")),
            });
        }
        self.aws.list_clusters(region).await
    }

    async fn describe_cluster(&self, region: &str, name: &str) -> Result<Option<EksCluster>> {
        self.round_trip(region).await;
        self.aws.describe_cluster(region, name).await
    }

    async fn has_addon(&self, cluster: &ClusterArn, addon: &str) -> Result<bool> {
        self.aws.has_addon(cluster, addon).await
    }

    async fn pod_identity_associations(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
    ) -> Result<Vec<PodIdentityAssociation>> {
        self.aws.pod_identity_associations(cluster, namespace).await
    }

    async fn access_entry(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<AccessEntry>> {
        self.aws.access_entry(cluster, principal_arn).await
    }

    async fn access_entry_tags(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        self.aws.access_entry_tags(cluster, principal_arn).await
    }
}

thread_local! {
    /// The account of each ListClusters, in the order discovery sent them (this thread's).
    static LISTS_SENT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

const REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
];

fn regions(names: &[&str]) -> Regions {
    let flags: Vec<String> = names.iter().map(|r| (*r).to_owned()).collect();
    search_regions(&flags, false, None).unwrap()
}

fn fleet(per_region: usize) -> Accounts<Slow> {
    let mut accounts = Accounts::new(Slow::new("111111111111", &REGIONS, per_region));
    for account in ["222222222222", "333333333333"] {
        let role =
            crate::core::model::RoleArn::parse(&format!("arn:aws:iam::{account}:role/discovery"))
                .unwrap();
        accounts.assume(&role, Slow::new(account, &REGIONS, per_region));
    }
    accounts
}

#[tokio::test(start_paused = true)]
async fn every_account_and_region_at_once_so_the_wait_is_one_list_and_one_describe() {
    let accounts = fleet(10);
    let started = tokio::time::Instant::now();
    let clusters = discover(&accounts, &regions(&REGIONS), &|_| {})
        .await
        .unwrap();
    // 3 accounts x 17 regions x 10 clusters: 51 lists and 510 describes, yet two round trips.
    assert_eq!(clusters.len(), 510);
    assert_eq!(started.elapsed(), 2 * RTT);
    let calls: usize = accounts.iter().map(|a| *a.calls.borrow()).sum();
    assert_eq!(calls, 51 + 510);
    assert!(
        clusters.windows(2).all(|w| w[0].arn < w[1].arn),
        "sorted, no ARN twice"
    );
}

#[tokio::test(start_paused = true)]
async fn the_assumed_accounts_lists_go_out_before_the_callers_own() {
    // Theirs wait for STS's AssumeRole first (the longest chain): sent first, it is not
    // answered behind the caller's own lists by a server answering in arrival order.
    LISTS_SENT.with(|sent| sent.borrow_mut().clear());
    let accounts = fleet(1);
    discover(&accounts, &regions(&REGIONS[..3]), &|_| {})
        .await
        .unwrap();
    let sent = LISTS_SENT.with(|sent| sent.borrow().clone());
    let order: Vec<&str> = sent.iter().map(String::as_str).collect();
    assert_eq!(
        order,
        [
            "222222222222",
            "222222222222",
            "222222222222",
            "333333333333",
            "333333333333",
            "333333333333",
            "111111111111",
            "111111111111",
            "111111111111"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn describes_per_account_and_region_stay_within_the_bound() {
    let accounts = fleet(25);
    let started = tokio::time::Instant::now();
    let clusters = discover(&accounts, &regions(&REGIONS[..2]), &|_| {})
        .await
        .unwrap();
    assert_eq!(clusters.len(), 3 * 2 * 25);
    // 25 describes 10 at a time: three rounds after the list.
    assert_eq!(started.elapsed(), 4 * RTT);
    for account in accounts.iter() {
        for region in &REGIONS[..2] {
            assert_eq!(account.most.borrow()[*region], DESCRIBE_PER_REGION);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn no_cluster_is_described_before_every_region_has_listed() {
    let mut slow = Slow::new("111111111111", &REGIONS[..2], 3);
    slow.pages.insert(REGIONS[1].to_owned(), 4);
    let accounts = Accounts::new(slow);
    let events = RefCell::new(Vec::new());
    let started = tokio::time::Instant::now();
    discover(&accounts, &regions(&REGIONS[..2]), &|progress| {
        events.borrow_mut().push(match progress {
            Discovered::Listed { region, names, .. } => {
                format!("listed {region} {}", names.len())
            }
            Discovered::AllListed { clusters } => format!("all listed {clusters}"),
            Discovered::Described { cluster, .. } => format!("described {}", cluster.arn.region),
            Discovered::Gone { name, .. } => format!("gone {name}"),
        });
    })
    .await
    .unwrap();
    // Four pages, then one round of describes: the faster region's wait for the slower list
    // (on a server answering one request at a time they would hold it back).
    assert_eq!(started.elapsed(), 5 * RTT);
    let events = events.into_inner();
    assert_eq!(
        events[..3],
        ["listed us-east-1 3", "listed us-east-2 3", "all listed 6"]
    );
    assert_eq!(events.len(), 9, "{events:?}");
    assert!(
        events[3..].iter().all(|e| e.starts_with("described ")),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn refusing_regions_are_skipped_per_account_unless_all_refuse() {
    let mut own = Slow::new("111111111111", &REGIONS[..2], 2);
    own.refusing.push(REGIONS[1].to_owned());
    let mut accounts = Accounts::new(own);
    let mut other = Slow::new("222222222222", &REGIONS[..2], 2);
    other.refusing = vec![REGIONS[1].to_owned()];
    accounts.assume(
        &crate::core::model::RoleArn::parse("arn:aws:iam::222222222222:role/d").unwrap(),
        other,
    );
    // us-east-1 named with --region, us-east-2 added by --all-regions.
    let only_some = Regions::for_tests(&REGIONS[..2], &REGIONS[..1]);
    let clusters = discover(&accounts, &only_some, &|_| {}).await.unwrap();
    assert_eq!(clusters.len(), 4, "us-east-2 skipped in both accounts");

    let mut refuses_all = Slow::new("333333333333", &REGIONS[..2], 2);
    refuses_all.refusing = REGIONS[..2].iter().map(|r| (*r).to_owned()).collect();
    let accounts = Accounts::new(refuses_all);
    let added_only = Regions::for_tests(&REGIONS[..2], &[]);
    let error = discover(&accounts, &added_only, &|_| {}).await.unwrap_err();
    assert!(error.is_credentials_refused(), "{error}");
}

#[tokio::test(start_paused = true)]
async fn named_targets_are_described_together_in_the_order_given() {
    use crate::cli::settings::TargetRef;
    use crate::commands::targets::find_targets;
    let accounts = Accounts::new(Slow::new("111111111111", &REGIONS[..2], 25));
    // 50 ARNs, the two regions interleaved and in reverse.
    let targets: Vec<TargetRef> = (0..25)
        .rev()
        .flat_map(|i| {
            REGIONS[..2].iter().map(move |region| {
                TargetRef::Arn(ClusterArn::new(
                    "aws",
                    region,
                    "111111111111",
                    &format!("c{i}"),
                ))
            })
        })
        .collect();
    let started = tokio::time::Instant::now();
    let found = find_targets(&accounts, &targets, &regions(&REGIONS[..2]))
        .await
        .unwrap();
    // 25 per region, 10 at a time per region, both regions at once: three round trips.
    assert_eq!(started.elapsed(), 3 * RTT);
    let arns: Vec<String> = found.iter().map(|c| c.arn.to_string()).collect();
    let wanted: Vec<String> = targets
        .iter()
        .map(|t| match t {
            TargetRef::Arn(arn) => arn.to_string(),
            TargetRef::Name(_) => unreachable!(),
        })
        .collect();
    assert_eq!(arns, wanted);
    assert_eq!(
        accounts.own().most.borrow()[REGIONS[0]],
        DESCRIBE_PER_REGION
    );
}
