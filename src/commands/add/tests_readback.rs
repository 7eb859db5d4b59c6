//! `add`'s read-back: the hub's server-side apply answers stand in for a list after the
//! writes, and still catch a server that stored something else.

use super::tests::add;
use crate::commands::accounts::Accounts;
use crate::error::Error;
use crate::testing::{FakeAws, FakeHub, FakePrompt, MANAGEMENT, eks_cluster};

const ACCOUNT: &str = "123456789012";
const ARGS: [&str; 6] = [
    "prod",
    "--yes",
    "--management-role-arn",
    MANAGEMENT,
    "--identity",
    "irsa",
];

fn aws() -> Accounts<FakeAws> {
    Accounts::new(FakeAws::in_account(
        ACCOUNT,
        vec![eks_cluster(ACCOUNT, "eu-west-1", "prod")],
    ))
}

#[tokio::test]
async fn the_apply_answers_are_the_read_back() {
    let (hub, accounts) = (FakeHub::with_argocd("argocd"), aws());
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &ARGS, false).await;
    result.unwrap();
    assert!(out.contains("Registered as Secret"), "{out}");
    assert_eq!(hub.writes.borrow().len(), 4);
}

#[tokio::test]
async fn an_answer_without_the_annotation_fails_the_read_back() {
    let hub = FakeHub {
        drops_annotations: true,
        ..FakeHub::with_argocd("argocd")
    };
    let accounts = aws();
    let (result, _) = add(&hub, &accounts, &FakePrompt::default(), &ARGS, false).await;
    match result {
        Err(Error::VerifyFailed { what, .. }) => {
            assert!(what.contains("argocd-application-controller"), "{what}");
        }
        other => panic!("expected the read-back to fail, got {other:?}"),
    }
}
