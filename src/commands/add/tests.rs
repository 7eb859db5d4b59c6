//! `add`'s decisions against in-memory ports: dry runs, refusals, conflicts, several clusters,
//! guided answers, and a second run that writes nothing.

use crate::commands::accounts::Accounts;
use crate::error::{Error, Result};
use crate::testing::{Answer, FakeAws, FakeHub, FakePrompt, MANAGEMENT, eks_cluster, run_tool};

const ACCOUNT: &str = "123456789012";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/someone-else";

fn aws() -> Accounts<FakeAws> {
    Accounts::new(FakeAws::in_account(
        ACCOUNT,
        vec![
            eks_cluster(ACCOUNT, "eu-west-1", "prod"),
            eks_cluster(ACCOUNT, "eu-west-1", "staging"),
        ],
    ))
}

/// Run `add` with `args` (after `add`); the result and what it printed.
pub(crate) async fn add(
    hub: &FakeHub,
    accounts: &Accounts<FakeAws>,
    prompt: &FakePrompt,
    args: &[&str],
    terminal: bool,
) -> (Result<()>, String) {
    let all = [
        &[
            "add",
            "--region",
            "eu-west-1",
            "--argocd-namespace",
            "argocd",
        ],
        args,
    ]
    .concat();
    run_tool(hub, accounts, prompt, &all, terminal).await
}

/// `hub` and `accounts` after `add` registered `clusters` (IRSA, direct mode), with the log
/// of writes emptied.
pub(crate) async fn registered(hub: &FakeHub, accounts: &Accounts<FakeAws>, clusters: &[&str]) {
    let args = [clusters, &["--yes"], &IRSA].concat();
    add(hub, accounts, &FakePrompt::default(), &args, false)
        .await
        .0
        .unwrap();
    hub.writes.borrow_mut().clear();
    accounts.own().writes.borrow_mut().clear();
}

const IRSA: [&str; 4] = ["--management-role-arn", MANAGEMENT, "--identity", "irsa"];

fn with<'a>(first: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    first.iter().chain(rest).copied().collect()
}

fn writes(hub: &FakeHub, accounts: &Accounts<FakeAws>) -> usize {
    hub.writes.borrow().len() + accounts.own().writes.borrow().len()
}

#[tokio::test]
async fn client_dry_run_shows_the_plan_and_writes_nothing() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--dry-run"], &IRSA),
        false,
    )
    .await;
    result.unwrap();
    assert!(
        out.contains("Plan for arn:aws:eks:eu-west-1:123456789012:cluster/prod (identity: irsa):"),
        "{out}"
    );
    assert!(out.contains("  + create    ServiceAccount argocd/argocd-server annotation eks.amazonaws.com/role-arn"), "{out}");
    assert!(
        out.contains("Dry run: nothing was changed (6 created, 0 updated, 0 unchanged)."),
        "{out}"
    );
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn server_dry_run_sends_only_the_kubernetes_writes_as_dry_runs() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--dry-run=server"], &IRSA),
        false,
    )
    .await;
    result.unwrap();
    assert!(out.contains("Dry run (server)"), "{out}");
    let hub_writes = hub.writes.borrow();
    assert_eq!(hub_writes.len(), 4, "{hub_writes:?}");
    assert!(hub_writes.iter().all(|w| w.starts_with("(dry run) ")));
    assert!(
        accounts.own().writes.borrow().is_empty(),
        "AWS has no dry run"
    );
    assert!(hub.secrets.borrow().is_empty());
}

#[tokio::test]
async fn applies_in_order_and_a_second_run_writes_nothing() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--yes"], &IRSA),
        false,
    )
    .await;
    result.unwrap();
    assert!(
        out.contains("Registered as Secret argocd/eks-prod-eu-west-1-"),
        "{out}"
    );
    assert!(
        out.contains("only when restarted (or pass --restart)"),
        "{out}"
    );
    let hub_writes = hub.writes.borrow().clone();
    assert_eq!(hub_writes.len(), 4);
    assert!(
        hub_writes[3].starts_with("apply Secret argocd/"),
        "the Secret goes last: {hub_writes:?}"
    );
    assert_eq!(
        *accounts.own().writes.borrow(),
        [
            format!("create access entry {MANAGEMENT} on prod"),
            format!(
                "associate arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy for {MANAGEMENT} on prod"
            ),
        ]
    );
    let before = writes(&hub, &accounts);
    let (again, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--yes"], &IRSA),
        false,
    )
    .await;
    again.unwrap();
    assert!(
        out.contains("Nothing to change: already registered"),
        "{out}"
    );
    assert_eq!(writes(&hub, &accounts), before);
}

#[tokio::test]
async fn restart_restarts_the_workloads_once_the_identity_changed() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--yes", "--restart"], &IRSA),
        false,
    )
    .await;
    result.unwrap();
    assert!(
        out.contains("Restarted statefulsets/argocd-application-controller"),
        "{out}"
    );
    assert!(!out.contains("only when restarted"), "{out}");
}

#[tokio::test]
async fn a_service_account_with_another_role_is_a_conflict_and_nothing_is_written() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    hub.annotate("argocd", OTHER_ROLE, false);
    let (result, _) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--yes"], &IRSA),
        false,
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Conflict { .. }), "{error}");
    assert!(error.to_string().contains("--replace-identity"), "{error}");
    assert_eq!(error.exit_code(), crate::error::exit::CONFLICT);
    assert_eq!(writes(&hub, &accounts), 0);

    let (replaced, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--yes", "--replace-identity"], &IRSA),
        false,
    )
    .await;
    replaced.unwrap();
    assert!(out.contains(&format!("~ update    ServiceAccount argocd/argocd-server annotation eks.amazonaws.com/role-arn  ({OTHER_ROLE} -> {MANAGEMENT})")), "{out}");
}

#[tokio::test]
async fn missing_rbac_is_refused_before_any_write() {
    let (mut hub, accounts, prompt) =
        (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    hub.refused = vec!["create secrets".into()];
    let (result, _) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "--yes"], &IRSA),
        false,
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error}");
    assert!(error.to_string().contains("create secrets"), "{error}");
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn no_at_the_question_cancels_without_writing() {
    let (hub, accounts) = (FakeHub::with_argocd("argocd"), aws());
    let prompt = FakePrompt::answering(&[Answer::No]);
    let (result, out) = add(&hub, &accounts, &prompt, &with(&["prod"], &IRSA), true).await;
    assert!(matches!(result, Err(Error::Cancelled)));
    assert!(
        out.contains("Plan for"),
        "the plan is shown before the question: {out}"
    );
    assert_eq!(*prompt.asked.borrow(), ["Apply these changes?"]);
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn without_a_terminal_the_question_is_refused_naming_yes() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, _) = add(&hub, &accounts, &prompt, &with(&["prod"], &IRSA), false).await;
    let error = result.unwrap_err();
    assert!(error.to_string().contains("--yes"), "{error}");
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn several_clusters_share_one_identity_in_one_plan() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, out) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["prod", "staging", "--yes", "-o", "json"], &IRSA),
        false,
    )
    .await;
    result.unwrap();
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "applied");
    assert_eq!(report["plan"]["clusters"].as_array().unwrap().len(), 2);
    let kinds: Vec<&str> = report["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["step"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "annotateServiceAccount")
            .count(),
        3
    );
    assert_eq!(kinds.iter().filter(|k| **k == "applySecret").count(), 2);
    assert_eq!(hub.secrets.borrow().len(), 2);
}

#[tokio::test]
async fn an_unknown_cluster_is_not_found_and_names_the_flags() {
    let (hub, accounts, prompt) = (FakeHub::with_argocd("argocd"), aws(), FakePrompt::default());
    let (result, _) = add(
        &hub,
        &accounts,
        &prompt,
        &with(&["nope", "--yes"], &IRSA),
        false,
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("--region"), "{error}");
}

#[tokio::test]
async fn guided_answers_pick_the_cluster_identity_roles_and_access() {
    let (hub, accounts) = (FakeHub::with_argocd("argocd"), aws());
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![1]),
        Answer::One(1),
        Answer::One(1), // "enter a role ARN"
        Answer::Text(MANAGEMENT),
        Answer::Default, // direct mode
        Answer::One(3),
        Answer::Yes,
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &[], true).await;
    result.unwrap();
    assert_eq!(
        *prompt.asked.borrow(),
        [
            "Which clusters should Argo CD manage?",
            "How do Argo CD's pods get their AWS identity?",
            "Management role (the role Argo CD's pods run as)",
            "Role ARN",
            "Target role to assume in the cluster's account (chained mode)",
            "Access policy for Argo CD on the target (cluster scope)",
            "Apply these changes?",
        ]
    );
    assert!(out.contains("cluster/staging (identity: irsa)"), "{out}");
    let secrets = hub.secrets.borrow();
    assert_eq!(secrets.len(), 1);
    assert!(secrets[0].name.starts_with("eks-staging-"));
    assert!(
        !secrets[0].data["config"].contains("roleARN"),
        "direct mode"
    );
    let aws_writes = accounts.own().writes.borrow();
    assert!(
        aws_writes[1].contains("AmazonEKSViewPolicy"),
        "{aws_writes:?}"
    );
}

#[tokio::test]
async fn a_refused_guided_answer_is_an_error_that_names_the_flag() {
    let (hub, accounts) = (FakeHub::with_argocd("argocd"), aws());
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![0]),
        Answer::One(1),
        Answer::One(1),
        Answer::Text("not-an-arn"),
    ]);
    let (result, _) = add(&hub, &accounts, &prompt, &[], true).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error}");
    assert_eq!(writes(&hub, &accounts), 0);
}
