//! `add`'s writes when one of them fails or was made by someone else meanwhile, against
//! in-memory ports: what the output says was done and not, the error, and a second run that
//! finishes the job without a duplicate.

use serde_json::Value;

use super::tests::add;
use crate::commands::accounts::Accounts;
use crate::error::{Error, Result};
use crate::testing::{FakeAws, FakeHub, FakePrompt, Fault, MANAGEMENT, eks_cluster};

const ACCOUNT: &str = "123456789012";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/someone-else";

/// A hub on EKS (context named by its ARN) with the pod identity agent, and a target `prod`.
fn hub_and_aws() -> (FakeHub, Accounts<FakeAws>) {
    let mut hub = FakeHub::with_argocd("argocd");
    hub.context.context = format!("arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/hub");
    let mut aws = FakeAws::in_account(
        ACCOUNT,
        vec![
            eks_cluster(ACCOUNT, "eu-west-1", "prod"),
            eks_cluster(ACCOUNT, "eu-west-1", "hub"),
        ],
    );
    aws.addons.push((
        format!("arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/hub"),
        "eks-pod-identity-agent".into(),
    ));
    (hub, Accounts::new(aws))
}

const POD_IDENTITY: [&str; 7] = [
    "prod",
    "--management-role-arn",
    MANAGEMENT,
    "--identity",
    "pod-identity",
    "--yes",
    "--force",
];

async fn run(
    hub: &FakeHub,
    accounts: &Accounts<FakeAws>,
    args: &[&str],
    extra: &[&str],
) -> (Result<()>, String) {
    let all = [args, extra].concat();
    add(hub, accounts, &FakePrompt::default(), &all, false).await
}

/// The state that must hold once the registration is whole: one association per service
/// account, one access entry with one policy, one Secret.
fn assert_whole(hub: &FakeHub, accounts: &Accounts<FakeAws>) {
    let associations = accounts.own().associations.borrow();
    let mut service_accounts: Vec<String> = associations
        .iter()
        .map(|a| a.service_account.name.clone())
        .collect();
    service_accounts.sort();
    assert_eq!(
        service_accounts,
        [
            "argocd-application-controller",
            "argocd-applicationset-controller",
            "argocd-server"
        ]
    );
    let entries = accounts.own().entries.borrow();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries.values().next().unwrap().policies.len(), 1);
    assert_eq!(hub.secrets.borrow().len(), 1);
}

fn all_writes(hub: &FakeHub, accounts: &Accounts<FakeAws>) -> Vec<String> {
    let mut all = accounts.own().writes.borrow().clone();
    all.extend(hub.writes.borrow().iter().cloned());
    all
}

#[tokio::test]
async fn each_failed_write_is_reported_and_the_same_command_finishes_the_job() {
    // (fault on, steps done before it, the failing step's subject)
    let cases = [
        (
            "associate argocd/argocd-application-controller",
            0,
            "PodIdentityAssociation argocd/argocd-application-controller",
        ),
        (
            "associate argocd/argocd-server",
            1,
            "PodIdentityAssociation argocd/argocd-server",
        ),
        ("create access entry", 3, "AccessEntry"),
        (
            "associate arn:aws:eks::aws:cluster-access-policy/",
            4,
            "AccessPolicy AmazonEKSClusterAdminPolicy",
        ),
        ("apply Secret", 5, "Secret argocd/eks-prod-eu-west-1-"),
    ];
    for (fault, done, failing) in cases {
        let (hub, accounts) = hub_and_aws();
        if fault.starts_with("apply") {
            hub.faults.set(fault, Fault::Fail);
        } else {
            accounts.own().faults.set(fault, Fault::Fail);
        }
        let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &[]).await;
        let error = result.unwrap_err();
        assert!(matches!(error, Error::Aws { .. }), "{fault}: {error:?}");
        assert_eq!(error.exit_code(), 1);
        assert!(
            out.contains(&format!(
                "Stopped part way: {done} write(s) done, 1 failed, {} not done:",
                5 - done
            )),
            "{fault}: {out}"
        );
        let failed_line = out
            .lines()
            .find(|l| l.trim_start().starts_with("failed"))
            .unwrap();
        assert!(
            failed_line.contains(failing) && failed_line.contains("injected by the test"),
            "{fault}: {out}"
        );
        assert!(
            out.contains("Run the same command again to finish"),
            "{out}"
        );
        assert_eq!(out.matches("\n  done ").count(), done, "{fault}: {out}");
        let before = all_writes(&hub, &accounts).len();
        assert_eq!(before, done, "only the writes before the failure were made");

        // The same command again makes the rest, and only the rest.
        let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &[]).await;
        result.unwrap();
        assert!(out.contains("Registered as Secret"), "{out}");
        assert_eq!(all_writes(&hub, &accounts).len() - before, 6 - done);
        assert_whole(&hub, &accounts);
        // And once more: nothing to do.
        let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &[]).await;
        result.unwrap();
        assert!(out.contains("Nothing to change"), "{out}");
    }
}

#[tokio::test]
async fn a_stopped_run_says_each_steps_status_in_json() {
    let (hub, accounts) = hub_and_aws();
    accounts
        .own()
        .faults
        .set("create access entry", Fault::Denied);
    let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &["-o", "json"]).await;
    let error = result.unwrap_err();
    assert_eq!(error.exit_code(), 4, "the failed write's own exit code");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "failed");
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["done", "done", "done", "failed", "not-done", "not-done"]
    );
    assert!(
        report["steps"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{report}"
    );
    assert_eq!(
        report["steps"][5]["subject"].as_str().unwrap()[..14],
        *"Secret argocd/"
    );
}

#[tokio::test]
async fn irsa_annotations_go_together_one_refused_stops_before_the_secret_and_the_rerun_finishes() {
    let (hub, accounts) = hub_and_aws();
    hub.faults.set("annotate argocd/argocd-server", Fault::Fail);
    let irsa = [
        "prod",
        "--management-role-arn",
        MANAGEMENT,
        "--identity",
        "irsa",
        "--yes",
        "--force",
    ];
    let (result, out) = run(&hub, &accounts, &irsa, &[]).await;
    assert!(result.is_err());
    assert!(
        out.contains("Stopped part way: 2 write(s) done, 1 failed, 3 not done:"),
        "the three annotations are sent at once, the Secret after them: {out}"
    );
    assert!(hub.secrets.borrow().is_empty(), "the Secret goes last");
    let (result, _) = run(&hub, &accounts, &irsa, &[]).await;
    result.unwrap();
    let accounts_annotated = hub.service_accounts.borrow()["argocd"]
        .iter()
        .filter(|sa| sa.irsa_role.as_deref() == Some(MANAGEMENT))
        .count();
    assert_eq!(accounts_annotated, 3);
    assert_eq!(hub.secrets.borrow().len(), 1);
}

#[tokio::test]
async fn a_failed_restart_is_reported_after_every_write_was_done() {
    let (hub, accounts) = hub_and_aws();
    // The workloads' pods were last rolled before the identity is made (at 100).
    hub.workloads
        .borrow_mut()
        .insert("statefulsets/argocd-application-controller".into(), 0);
    hub.faults.set("restart argocd", Fault::Denied);
    let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &["--restart"]).await;
    assert_eq!(result.unwrap_err().exit_code(), 4);
    assert!(
        out.contains("Stopped part way: 6 write(s) done, 1 failed, 0 not done:"),
        "{out}"
    );
    assert!(
        out.contains("  failed       restart Argo CD's workloads in namespace argocd"),
        "{out}"
    );
    assert_whole(&hub, &accounts);
    // Nothing left to write, but the pods predate the identity: the same command restarts.
    let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &["--restart"]).await;
    result.unwrap();
    assert!(out.contains("Nothing to change"), "{out}");
    assert!(
        out.contains("Restarted statefulsets/argocd-application-controller"),
        "{out}"
    );
    let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &["--restart"]).await;
    result.unwrap();
    assert!(
        !out.contains("Restarted"),
        "rolled after the identity changed: {out}"
    );
}

#[tokio::test]
async fn a_create_someone_else_made_the_same_is_already_done() {
    let (hub, accounts) = hub_and_aws();
    let own = accounts.own();
    own.faults
        .set("associate argocd/argocd-server", Fault::InUse);
    own.faults.set("create access entry", Fault::InUse);
    hub.faults.set("apply Secret", Fault::InUse);
    let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &[]).await;
    result.unwrap();
    assert!(out.contains("Registered as Secret"), "{out}");
    assert!(
        out.contains("Already done by someone else meanwhile (read back as this run wanted it): PodIdentityAssociation argocd/argocd-server on EKS cluster hub, AccessEntry"),
        "{out}"
    );
    assert!(out.contains(", Secret argocd/eks-prod-"), "{out}");
    assert_whole(&hub, &accounts);
}

#[tokio::test]
async fn a_create_someone_else_made_differently_is_a_conflict_left_as_it_is() {
    let (hub, accounts) = hub_and_aws();
    accounts
        .own()
        .faults
        .set("associate argocd/argocd-server", Fault::TakenBy(OTHER_ROLE));
    let (result, out) = run(&hub, &accounts, &POD_IDENTITY, &["-o", "json"]).await;
    let error = result.unwrap_err();
    assert_eq!(error.exit_code(), 5);
    let message = error.to_string();
    assert!(
        message.contains("PodIdentityAssociation argocd/argocd-server on EKS cluster hub was changed meanwhile by someone else")
            && message.contains(&format!("has role {OTHER_ROLE}, this run wanted {MANAGEMENT}"))
            && message.contains("It was left as it is")
            && message.contains("--replace-identity"),
        "{message}"
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["steps"][1]["status"], "failed");
    let roles: Vec<String> = accounts
        .own()
        .associations
        .borrow()
        .iter()
        .map(|a| a.role_arn.clone())
        .collect();
    assert!(
        roles.contains(&OTHER_ROLE.to_owned()),
        "not overwritten: {roles:?}"
    );
    // Run again: the plan now sees the other role on that service account and refuses.
    let (result, _) = run(&hub, &accounts, &POD_IDENTITY, &[]).await;
    assert_eq!(result.unwrap_err().exit_code(), 5);
}
