//! `add`'s check before writing against in-memory ports: a trust that cannot work is refused
//! with doctor's fix and nothing written, `--force` writes it, "cannot tell" only warns, a dry
//! run shows the failures, and a working registration ends with the next steps.

use serde_json::json;

use super::tests::add;
use crate::commands::accounts::Accounts;
use crate::error::{Error, exit};
use crate::testing::{FakeAws, FakeHub, FakePrompt, FakeRole, MANAGEMENT, eks_cluster};

const ACCOUNT: &str = "123456789012";
const OTHER: &str = "210987654321";
const ISSUER: &str = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF";
const ISSUER_HOST_PATH: &str = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF";
pub(super) const DEPLOYER: &str = "arn:aws:iam::210987654321:role/argocd-deployer";

/// A hub on EKS (its kube context named by the cluster's ARN) with the pod identity agent, an
/// OIDC issuer and its IAM provider, and a target `prod`.
pub(super) fn hub_and_aws() -> (FakeHub, Accounts<FakeAws>) {
    let mut hub = FakeHub::with_argocd("argocd");
    hub.context.context = format!("arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/hub");
    let mut hub_cluster = eks_cluster(ACCOUNT, "eu-west-1", "hub");
    hub_cluster.oidc_issuer = Some(ISSUER.into());
    let mut aws = FakeAws::in_account(
        ACCOUNT,
        vec![eks_cluster(ACCOUNT, "eu-west-1", "prod"), hub_cluster],
    );
    aws.addons.push((
        format!("arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/hub"),
        "eks-pod-identity-agent".into(),
    ));
    aws.oidc_providers.borrow_mut().push(format!(
        "arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST_PATH}"
    ));
    (hub, Accounts::new(aws))
}

pub(super) fn put_role(aws: &FakeAws, arn: &str, trust: &serde_json::Value) {
    let name = arn.rsplit('/').next().unwrap();
    aws.roles.borrow_mut().insert(
        name.into(),
        FakeRole {
            arn: arn.into(),
            trust: trust.to_string(),
            ..FakeRole::default()
        },
    );
}

/// IRSA trust for these service accounts of namespace argocd.
pub(super) fn irsa_trust(service_accounts: &[&str]) -> serde_json::Value {
    let subjects: Vec<String> = service_accounts
        .iter()
        .map(|sa| format!("system:serviceaccount:argocd:{sa}"))
        .collect();
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST_PATH}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{ISSUER_HOST_PATH}:sub"): subjects,
            format!("{ISSUER_HOST_PATH}:aud"): "sts.amazonaws.com",
        }},
    }]})
}

pub(super) fn pod_identity_trust(actions: &[&str]) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": actions,
    }]})
}

pub(super) const ALL_SAS: [&str; 3] = [
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
];

fn writes(hub: &FakeHub, accounts: &Accounts<FakeAws>) -> usize {
    hub.writes.borrow().len() + accounts.own().writes.borrow().len()
}

const IRSA: [&str; 5] = [
    "prod",
    "--management-role-arn",
    MANAGEMENT,
    "--identity",
    "irsa",
];

#[tokio::test]
async fn an_irsa_trust_that_lacks_one_service_account_is_refused_with_doctors_fix() {
    let (hub, accounts) = hub_and_aws();
    put_role(accounts.own(), MANAGEMENT, &irsa_trust(&ALL_SAS[..2]));
    let args = [&IRSA[..], &["--yes"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::WouldNotWork(1)), "{error}");
    assert_eq!(error.exit_code(), exit::WOULD_NOT_WORK);
    assert!(error.to_string().contains("--force"), "{error}");
    assert_eq!(
        writes(&hub, &accounts),
        0,
        "nothing is written when refused"
    );
    assert!(out.contains("Plan for"), "{out}");
    assert!(
        out.contains("  FAIL the management role trusts each service account's web identity: denied for system:serviceaccount:argocd:argocd-applicationset-controller"),
        "{out}"
    );
    // The fix is the one doctor prints: the whole trust, every service account in it.
    let fix = out
        .lines()
        .find(|l| l.trim_start().starts_with("fix: "))
        .unwrap();
    assert!(
        fix.contains("aws iam update-assume-role-policy --role-name argocd-management"),
        "{fix}"
    );
    for sa in ALL_SAS {
        assert!(
            fix.contains(&format!("system:serviceaccount:argocd:{sa}")),
            "{fix}"
        );
    }

    // The same as a document: the outcome and the failed check, and still nothing written.
    let args = [&IRSA[..], &["--yes", "-o", "json"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    assert!(matches!(result, Err(Error::WouldNotWork(1))));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "refused");
    let failed: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn force_writes_a_registration_that_fails_a_check() {
    let (hub, accounts) = hub_and_aws();
    put_role(accounts.own(), MANAGEMENT, &irsa_trust(&ALL_SAS[..2]));
    let args = [&IRSA[..], &["--yes", "--force"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    assert!(out.contains("  FAIL the management role trusts"), "{out}");
    assert!(
        out.contains("Written with --force although 1 check(s) failed"),
        "{out}"
    );
    assert_eq!(hub.secrets.borrow().len(), 1);
}

#[tokio::test]
async fn a_dry_run_shows_the_failure_and_exits_as_a_dry_run() {
    let (hub, accounts) = hub_and_aws();
    put_role(
        accounts.own(),
        MANAGEMENT,
        &pod_identity_trust(&["sts:AssumeRole", "sts:TagSession"]),
    );
    let args = [&IRSA[..], &["--dry-run"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    assert!(
        out.contains("  FAIL the management role trusts each service account's web identity"),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was changed"), "{out}");
    assert!(
        out.contains("Without --dry-run this would be refused (exit code 7): 1 check(s) failed"),
        "{out}"
    );
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn a_role_these_credentials_cannot_read_only_warns_and_is_applied() {
    let (hub, accounts) = hub_and_aws();
    // The role is in an account no credentials of this run reach: its trust cannot be read.
    let elsewhere = "arn:aws:iam::999999999999:role/argocd-management";
    let args = [
        "prod",
        "--management-role-arn",
        elsewhere,
        "--identity",
        "irsa",
        "--yes",
    ];
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    assert!(
        out.contains("  ??   the management role trusts each service account's web identity: the role or the hub's issuer could not be read (give the caller iam:GetRole, or reach account 999999999999 with --assume-role)"),
        "{out}"
    );
    assert!(out.contains(", 0 failed, "), "{out}");
    assert!(out.contains("Registered as Secret"), "{out}");
}

#[tokio::test]
async fn a_pod_identity_trust_without_tag_session_is_refused() {
    let (hub, accounts) = hub_and_aws();
    put_role(
        accounts.own(),
        MANAGEMENT,
        &pod_identity_trust(&["sts:AssumeRole"]),
    );
    let args = ["prod", "--management-role-arn", MANAGEMENT, "--yes"];
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    assert!(
        matches!(result, Err(Error::WouldNotWork(1))),
        "{result:?}\n{out}"
    );
    assert!(
        out.contains("(identity: pod-identity)"),
        "auto picks pod identity: {out}"
    );
    assert!(
        out.contains("  FAIL the management role trusts pods.eks.amazonaws.com (AssumeRole + TagSession): denied: sts:TagSession"),
        "{out}"
    );
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn a_target_role_that_does_not_trust_the_management_role_is_refused() {
    let (hub, mut accounts) = hub_and_aws();
    put_role(accounts.own(), MANAGEMENT, &irsa_trust(&ALL_SAS));
    let other = FakeAws::in_account(OTHER, vec![]);
    put_role(
        &other,
        DEPLOYER,
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
            "Action": "sts:AssumeRole",
        }]}),
    );
    accounts.assume(
        &crate::core::model::RoleArn::parse(DEPLOYER).unwrap(),
        other,
    );
    let args = [&IRSA[..], &["--role-arn", DEPLOYER, "--yes"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    assert!(
        matches!(result, Err(Error::WouldNotWork(1))),
        "{result:?}\n{out}"
    );
    assert!(
        out.contains("  FAIL the target role trusts the management role: denied: sts:AssumeRole"),
        "{out}"
    );
    assert!(
        out.contains("--role-name argocd-deployer"),
        "the fix: {out}"
    );
    assert_eq!(writes(&hub, &accounts), 0);
}

#[tokio::test]
async fn a_working_registration_passes_and_ends_with_the_next_steps() {
    let (hub, accounts) = hub_and_aws();
    put_role(accounts.own(), MANAGEMENT, &irsa_trust(&ALL_SAS));
    let args = [&IRSA[..], &["--yes"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    assert!(out.contains(", 0 failed, 0 cannot tell"), "{out}");
    assert!(out.contains("Next steps:"), "{out}");
    assert!(
        out.contains(
            "1. Argo CD's pods pick up the new identity only when restarted (or pass --restart):"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("kubectl argocd-eks doctor arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod --argocd-namespace argocd --region eu-west-1")),
        "{out}"
    );
    assert!(out.contains("kind: Application"), "{out}");
    assert!(
        out.contains("server: https://PROD.gr7.eu-west-1.eks.amazonaws.com"),
        "{out}"
    );

    // As a document: the doctor command is a field; the Application is text only.
    hub.secrets.borrow_mut().clear();
    let args = [&IRSA[..], &["--yes", "-o", "json"]].concat();
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["doctorCommand"]
            .as_str()
            .unwrap()
            .starts_with("kubectl argocd-eks doctor ")
    );
    assert!(
        !out.contains("kind: Application") && !out.contains("\"Application\""),
        "{out}"
    );
}

#[tokio::test]
async fn native_chaining_checks_the_hop_to_the_associations_target_role() {
    let (hub, mut accounts) = hub_and_aws();
    put_role(
        accounts.own(),
        MANAGEMENT,
        &pod_identity_trust(&["sts:AssumeRole", "sts:TagSession"]),
    );
    let other = FakeAws::in_account(OTHER, vec![]);
    put_role(
        &other,
        DEPLOYER,
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": MANAGEMENT},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }]}),
    );
    accounts.assume(
        &crate::core::model::RoleArn::parse(DEPLOYER).unwrap(),
        other,
    );
    let args = [
        "prod",
        "--management-role-arn",
        MANAGEMENT,
        "--identity",
        "pod-identity",
        "--role-arn",
        DEPLOYER,
        "--native-chaining",
        "--yes",
    ];
    // The management role has no policy that lets it assume the target role.
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    assert!(
        matches!(result, Err(Error::WouldNotWork(1))),
        "{result:?}\n{out}"
    );
    assert!(
        out.contains("  FAIL the management role may sts:AssumeRole the target role"),
        "{out}"
    );
    assert!(
        out.contains(": 6 ok, 1 failed, 0 cannot tell"),
        "the target role's trust passes: {out}"
    );
    assert_eq!(writes(&hub, &accounts), 0);

    let permission = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Resource": DEPLOYER,
    }]});
    accounts
        .own()
        .roles
        .borrow_mut()
        .get_mut("argocd-management")
        .unwrap()
        .inline
        .insert("argocd".into(), permission.to_string());
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    assert!(out.contains(", 0 failed, 0 cannot tell"), "{out}");
}

#[tokio::test]
async fn a_capability_registration_has_nothing_to_check_and_its_doctor_command_names_the_role() {
    let (hub, accounts) = hub_and_aws();
    let role = "arn:aws:iam::123456789012:role/capability";
    let args = ["prod", "--capability-role", role, "--yes"];
    let (result, out) = add(&hub, &accounts, &FakePrompt::default(), &args, false).await;
    result.unwrap();
    assert!(!out.contains("Checks before writing"), "{out}");
    assert!(
        out.contains(&format!(
            "kubectl argocd-eks doctor arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod --argocd-namespace argocd --capability-role {role} --region eu-west-1"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "server: arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod"
        )),
        "the Application aims at the server the capability's Secret names: {out}"
    );
}
