//! `remove`'s decisions against in-memory ports: what goes, what stays while something still
//! needs it, dry runs, and registrations that cannot be named.

use crate::commands::accounts::Accounts;
use crate::commands::add::tests;
use crate::error::{Error, Result};
use crate::testing::{FakeAws, FakeHub, FakePrompt, MANAGEMENT, eks_cluster, run_tool};

const ACCOUNT: &str = "123456789012";

/// A hub with prod and staging registered (IRSA, direct mode) by `add`.
async fn registered() -> (FakeHub, Accounts<FakeAws>) {
    let hub = FakeHub::with_argocd("argocd");
    let accounts = Accounts::new(FakeAws::in_account(
        ACCOUNT,
        vec![
            eks_cluster(ACCOUNT, "eu-west-1", "prod"),
            eks_cluster(ACCOUNT, "eu-west-1", "staging"),
        ],
    ));
    tests::registered(&hub, &accounts, &["prod", "staging"]).await;
    (hub, accounts)
}

async fn remove(
    hub: &FakeHub,
    accounts: &Accounts<FakeAws>,
    args: &[&str],
) -> (Result<()>, String) {
    let all = [&["remove", "--argocd-namespace", "argocd"], args].concat();
    run_tool(hub, accounts, &FakePrompt::default(), &all, false).await
}

#[tokio::test]
async fn identity_and_access_stay_while_another_registration_needs_them() {
    let (hub, accounts) = registered().await;
    let (result, out) = remove(&hub, &accounts, &["prod", "--yes"]).await;
    result.unwrap();
    assert!(out.contains("Plan to remove eks-prod-"), "{out}");
    assert!(out.contains("  = keep   ServiceAccount argocd/argocd-server annotation eks.amazonaws.com/role-arn  (still needed by Secret argocd/eks-staging-"), "{out}");
    assert!(
        out.contains("  - delete AccessEntry"),
        "prod's entry is used by nothing else: {out}"
    );
    assert!(out.contains("Removed: 2 deleted, 3 kept."), "{out}");
    let hub_writes = hub.writes.borrow();
    assert_eq!(hub_writes.len(), 2);
    // Argo CD stops using it first; the Secret itself goes after the access entry.
    assert!(hub_writes[0].starts_with("unregister Secret argocd/eks-prod-"));
    assert!(hub_writes[1].starts_with("delete Secret argocd/eks-prod-"));
    assert_eq!(
        *accounts.own().writes.borrow(),
        [format!("delete access entry {MANAGEMENT} on prod")]
    );
}

#[tokio::test]
async fn the_last_registration_takes_the_identity_it_made_with_it() {
    let (hub, accounts) = registered().await;
    remove(&hub, &accounts, &["prod", "--yes"]).await.0.unwrap();
    let (result, out) = remove(&hub, &accounts, &["staging", "--yes"]).await;
    result.unwrap();
    assert!(
        out.contains("Argo CD's running pods keep their AWS credentials until they restart"),
        "{out}"
    );
    assert!(hub.secrets.borrow().is_empty());
    let sas = hub.service_accounts.borrow();
    assert!(sas["argocd"].iter().all(|sa| sa.irsa_role.is_none()));
    assert!(accounts.own().entries.borrow().is_empty());
}

#[tokio::test]
async fn an_annotation_someone_else_set_is_kept() {
    let (hub, accounts) = registered().await;
    hub.owned.borrow_mut().clear();
    let (result, out) = remove(&hub, &accounts, &["prod", "staging", "--yes"]).await;
    result.unwrap();
    assert!(out.contains("set by someone else"), "{out}");
    assert!(
        hub.writes
            .borrow()
            .iter()
            .all(|w| w.starts_with("delete Secret") || w.starts_with("unregister Secret"))
    );
}

#[tokio::test]
async fn a_remove_that_stops_part_way_is_finished_by_the_same_command() {
    let (hub, accounts) = registered().await;
    accounts
        .own()
        .faults
        .set("delete access entry", crate::testing::Fault::Denied);
    let (result, out) = remove(&hub, &accounts, &["prod", "--yes"]).await;
    assert_eq!(result.unwrap_err().exit_code(), 4);
    assert!(
        out.contains("Stopped part way: 1 write(s) done, 1 failed, 1 not done:"),
        "{out}"
    );
    assert!(
        out.contains("  done         unregister Secret argocd/eks-prod-"),
        "{out}"
    );
    assert!(
        out.contains("  not done     delete Secret argocd/eks-prod-"),
        "{out}"
    );
    // The Secret stays, unlabelled (Argo CD no longer uses it), so the same command finds it.
    assert_eq!(hub.secrets.borrow().len(), 2);
    let (result, out) = remove(&hub, &accounts, &["prod", "--yes"]).await;
    result.unwrap();
    assert!(out.contains("Removed: 2 deleted"), "{out}");
    assert_eq!(hub.secrets.borrow().len(), 1);
    assert_eq!(
        accounts.own().writes.borrow().last().unwrap(),
        &format!("delete access entry {MANAGEMENT} on prod")
    );
    let (result, _) = remove(&hub, &accounts, &["prod", "--yes"]).await;
    assert!(
        matches!(result, Err(Error::NotFound { .. })),
        "gone: {result:?}"
    );
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let (hub, accounts) = registered().await;
    let (result, out) = remove(&hub, &accounts, &["prod", "--dry-run"]).await;
    result.unwrap();
    assert!(
        out.contains("Dry run: nothing was changed (2 to delete, 3 kept)."),
        "{out}"
    );
    assert!(hub.writes.borrow().is_empty() && accounts.own().writes.borrow().is_empty());
    assert_eq!(hub.secrets.borrow().len(), 2);
}

#[tokio::test]
async fn an_unknown_name_is_not_found_and_lists_what_is_registered() {
    let (hub, accounts) = registered().await;
    let (result, _) = remove(&hub, &accounts, &["nope", "--yes"]).await;
    let Err(error @ Error::NotFound { .. }) = result else {
        panic!("{result:?}")
    };
    let message = error.to_string();
    assert!(
        message.contains("= prod (eu-west-1)") && message.contains("= staging (eu-west-1)"),
        "{message}"
    );
    assert!(hub.writes.borrow().is_empty());
}

#[tokio::test]
async fn the_document_names_the_outcome() {
    let (hub, accounts) = registered().await;
    let (result, out) = remove(&hub, &accounts, &["prod", "--dry-run=server", "-o", "json"]).await;
    result.unwrap();
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "dry-run-server");
    assert!(
        hub.writes
            .borrow()
            .iter()
            .all(|w| w.starts_with("(dry run) "))
    );
    assert!(accounts.own().writes.borrow().is_empty());
}
