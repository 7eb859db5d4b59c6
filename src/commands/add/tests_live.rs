//! The guided picker over discovery still running: it opens with every name listed, rows not
//! described yet show `…`, a cluster gone cannot be registered, and discovery's error ends it.

use std::time::Duration;

use super::tests::add;
use crate::commands::accounts::Accounts;
use crate::error::Error;
use crate::testing::{Answer, FakeAws, FakeHub, FakePrompt, Fault, MANAGEMENT, eks_cluster};

const ACCOUNT: &str = "123456789012";
const QUESTION: &str = "Which clusters should Argo CD manage?";

fn fleet(slow: &[(&str, u64)], deleted: &[&str]) -> Accounts<FakeAws> {
    let mut aws = FakeAws::in_account(
        ACCOUNT,
        vec![
            eks_cluster(ACCOUNT, "eu-west-1", "prod"),
            eks_cluster(ACCOUNT, "eu-west-1", "staging"),
        ],
    );
    aws.slow_describe = slow
        .iter()
        .map(|(name, secs)| ((*name).to_owned(), Duration::from_secs(*secs)))
        .collect();
    aws.deleted = deleted.iter().map(|name| (*name).to_owned()).collect();
    Accounts::new(aws)
}

/// The questions after the picker, with flags for identity and role.
const FLAGS: [&str; 6] = [
    "--identity",
    "irsa",
    "--management-role-arn",
    MANAGEMENT,
    "--access-policy",
    "AmazonEKSViewPolicy",
];

#[tokio::test(start_paused = true)]
async fn the_picker_opens_before_every_cluster_is_described_and_rows_fill_in() {
    let (hub, accounts) = (
        FakeHub::with_argocd("argocd"),
        fleet(&[("staging", 5)], &[]),
    );
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![1]),
        Answer::Default, // direct mode
        Answer::Yes,
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &FLAGS, true).await;
    result.unwrap();
    // Open once every name is listed, before any answer of DescribeCluster.
    let first = &prompt.first_live.borrow()[0];
    assert!(
        first[0].starts_with("prod ") && first[0].contains("\u{2026}"),
        "{first:?}"
    );
    assert!(
        first[1].starts_with("staging ") && first[1].contains("\u{2026}"),
        "{first:?}"
    );
    // Answered once filled in: what the picker shows at the end has the version.
    let last = &prompt.shown.borrow()[0];
    for row in last {
        assert!(row.contains("1.35 ") && row.contains("ACTIVE"), "{last:?}");
    }
    assert!(out.contains("cluster/staging (identity: irsa)"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn a_cluster_gone_when_described_is_marked_and_cannot_be_registered() {
    let (hub, accounts) = (FakeHub::with_argocd("argocd"), fleet(&[], &["ghost"]));
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![0]), // ghost: left out, so the question comes again
        Answer::Pick(vec![2]),
        Answer::Default,
        Answer::Yes,
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &FLAGS, true).await;
    result.unwrap();
    let rows = &prompt.shown.borrow()[0];
    assert!(
        rows[0].starts_with("ghost ") && rows[0].ends_with("(no longer exists)"),
        "{rows:?}"
    );
    let asked = prompt.asked.borrow();
    assert_eq!(
        asked.iter().filter(|q| *q == QUESTION).count(),
        2,
        "{asked:?}"
    );
    assert!(out.contains("cluster/staging (identity: irsa)"), "{out}");
    assert!(!out.contains("ghost"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn an_error_of_discovery_while_the_picker_is_open_ends_it() {
    let (hub, accounts) = (
        FakeHub::with_argocd("argocd"),
        fleet(&[("staging", 5)], &[]),
    );
    accounts
        .own()
        .faults
        .set("describe cluster staging", Fault::Fail);
    let prompt = FakePrompt::answering(&[Answer::Pick(vec![0])]);
    let (result, _) = add(&hub, &accounts, &prompt, &FLAGS, true).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Aws { .. }), "{error}");
    assert!(
        error.to_string().contains("describe cluster staging"),
        "{error}"
    );
    // The picker had opened; it never answered.
    assert_eq!(prompt.first_live.borrow().len(), 1);
    assert!(prompt.shown.borrow().is_empty());
    assert!(hub.writes.borrow().is_empty());
}
