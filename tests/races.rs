//! Two runs at once, end to end, as real parallel processes against the sandbox: two `add`s of
//! the same cluster and namespace, of two clusters in one namespace (same and different
//! management roles), and `add` racing `remove`. The end state is right, nothing is duplicated,
//! and each run says what it did ("already done by someone else", a conflict naming the fix).
//!
//! The interleaving is made certain, not left to luck: the moto extension holds one call of
//! one run (`delay_aws`) while the other run gets ahead.

mod common;

use std::process::{Child, Command, Stdio};

use common::faults::{delay_aws, reset_aws_faults, wait_until_faults_taken};
use common::*;

const OTHER_MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-other-management";

fn role_for(namespace: &str, suffix: &str) -> String {
    format!("arn:aws:iam::123456789012:role/rc-{namespace}{suffix}")
}

/// `add <cluster> --region <region> --role-arn <role>` in `namespace` as `management`, started.
fn spawn_add(namespace: &str, cluster: &str, region: &str, role: &str, management: &str) -> Child {
    spawn_add_with(
        namespace,
        cluster,
        region,
        management,
        &["--role-arn", role],
    )
}

/// `add <cluster> --region <region> <extra>` in `namespace` as `management`, started.
fn spawn_add_with(
    namespace: &str,
    cluster: &str,
    region: &str,
    management: &str,
    extra: &[&str],
) -> Child {
    require_sandbox();
    Command::new(env!("CARGO_BIN_EXE_kubectl-argocd_eks"))
        .args(["add", cluster, "--region", region])
        .args(["--argocd-namespace", namespace])
        .args(["--management-role-arn", management, "--force", "--yes"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Run {
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Start `first`, hold its first call of `held` (whose path or body holds `matching`) for a
/// few seconds, start `second` meanwhile, and wait for both: `first` has planned before
/// `second` starts, and `second` gets its writes in first.
fn race(
    held: &str,
    matching: &[&str],
    first: impl FnOnce() -> Child,
    second: impl FnOnce() -> Child,
) -> (Run, Run) {
    delay_aws(held, matching, 4.0);
    let first = first();
    wait_until_faults_taken();
    let second = finish(second());
    let first = finish(first);
    reset_aws_faults();
    (first, second)
}

/// The roles of the associations in `namespace`, by service account.
async fn association_roles(namespace: &str) -> Vec<(String, String)> {
    associations(namespace).await
}

fn all_with(role: &str) -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = SERVICE_ACCOUNTS
        .iter()
        .map(|sa| ((*sa).to_owned(), role.to_owned()))
        .collect();
    expected.sort();
    expected
}

async fn entry_count(region: &str, cluster: &str, role: &str) -> usize {
    access_entries(region, cluster)
        .await
        .iter()
        .filter(|p| *p == role)
        .count()
}

#[tokio::test]
async fn two_adds_of_the_same_cluster_and_namespace_at_once_both_succeed_once() {
    let ns = argocd_namespace("rc-same");
    let role = role_for(&ns, "");
    // a's first association create waits (a has planned by then); b plans and makes it all.
    let (a, b) = race(
        "CreatePodIdentityAssociation",
        &[&ns],
        || spawn_add(&ns, "staging", "us-east-1", &role, MANAGEMENT),
        || spawn_add(&ns, "staging", "us-east-1", &role, MANAGEMENT),
    );
    for run in [&a, &b] {
        assert_eq!(run.code, 0, "{run}");
        assert!(run.stdout.contains("Registered as Secret"), "{run}");
    }
    assert!(
        !b.stdout.contains("Already done by someone else"),
        "b made everything: {b}"
    );
    assert!(
        a.stdout.contains("Already done by someone else meanwhile (read back as this run wanted it): PodIdentityAssociation")
            && a.stdout.contains(&format!("AccessEntry {role} on EKS cluster staging.")),
        "a says what b did: {a}"
    );
    assert_eq!(
        association_roles(&ns).await,
        all_with(MANAGEMENT),
        "one each"
    );
    assert_eq!(entry_count("us-east-1", "staging", &role).await, 1);
    assert_eq!(cluster_secrets(&ns).len(), 1);
    let again = add(
        &ns,
        &[
            "staging",
            "--region",
            "us-east-1",
            "--role-arn",
            &role,
            "--yes",
        ],
    );
    assert!(again.stdout.contains("Nothing to change"), "{again}");
}

#[tokio::test]
async fn two_clusters_in_one_namespace_at_once_share_one_identity() {
    let ns = argocd_namespace("rc-two");
    let (staging_role, prod_role) = (role_for(&ns, "-s"), role_for(&ns, "-p"));
    let (a, b) = race(
        "CreatePodIdentityAssociation",
        &[&ns],
        || spawn_add(&ns, "staging", "us-east-1", &staging_role, MANAGEMENT),
        || spawn_add(&ns, "prod-eu", "eu-west-1", &prod_role, MANAGEMENT),
    );
    assert_eq!((a.code, b.code), (0, 0), "\n{a}\n{b}");
    assert!(
        a.stdout.contains("Already done by someone else meanwhile (read back as this run wanted it): PodIdentityAssociation"),
        "{a}"
    );
    assert_eq!(association_roles(&ns).await, all_with(MANAGEMENT));
    assert_eq!(cluster_secrets(&ns).len(), 2);
    assert_eq!(entry_count("us-east-1", "staging", &staging_role).await, 1);
    assert_eq!(entry_count("eu-west-1", "prod-eu", &prod_role).await, 1);
}

#[tokio::test]
async fn two_clusters_in_one_namespace_with_different_roles_the_later_is_a_conflict() {
    let ns = argocd_namespace("rc-conflict");
    let (staging_role, prod_role) = (role_for(&ns, "-s"), role_for(&ns, "-p"));
    // staging's first association create waits; prod-eu's run makes them with its role.
    let (a, b) = race(
        "CreatePodIdentityAssociation",
        &[&ns],
        || spawn_add(&ns, "staging", "us-east-1", &staging_role, MANAGEMENT),
        || spawn_add(&ns, "prod-eu", "eu-west-1", &prod_role, OTHER_MANAGEMENT),
    );
    assert_eq!(b.code, 0, "{b}");
    assert_eq!(a.code, 5, "a conflict: {a}");
    assert!(
        a.stderr.contains("was changed meanwhile by someone else")
            && a.stderr.contains(&format!(
                "has role {OTHER_MANAGEMENT}, this run wanted {MANAGEMENT}"
            ))
            && a.stderr.contains("It was left as it is")
            && a.stderr.contains("--replace-identity"),
        "{a}"
    );
    assert!(
        a.stdout
            .contains("Stopped part way: 0 write(s) done, 1 failed, 5 not done:"),
        "{a}"
    );
    // Nothing of staging's was written; prod-eu's registration is whole and untouched.
    assert_eq!(association_roles(&ns).await, all_with(OTHER_MANAGEMENT));
    let secrets = cluster_secrets(&ns);
    assert_eq!(secrets.len(), 1);
    assert!(
        secrets[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("eks-prod-eu-"),
        "{secrets:?}"
    );
    assert_eq!(entry_count("us-east-1", "staging", &staging_role).await, 0);
}

#[tokio::test]
async fn an_add_racing_a_remove_ends_registered_with_its_identity_made_again() {
    let ns = argocd_namespace("rc-remove");
    let (staging_role, prod_role) = (role_for(&ns, "-s"), role_for(&ns, "-p"));
    add_yes(
        &ns,
        &[
            "staging",
            "--region",
            "us-east-1",
            "--role-arn",
            &staging_role,
        ],
    );
    // prod-eu's add finds the identity in place (staging's), and waits at its access entry...
    delay_aws("CreateAccessEntry", &[&prod_role], 4.0);
    let adding = spawn_add(&ns, "prod-eu", "eu-west-1", &prod_role, MANAGEMENT);
    wait_until_faults_taken();
    // ...while staging is removed, and with it the identity nothing else used yet.
    let removed = tool(&["remove", "--argocd-namespace", &ns, "staging", "--yes"]);
    let added = finish(adding);
    reset_aws_faults();
    assert_eq!(removed.code, 0, "{removed}");
    assert!(
        removed.stdout.contains("- delete PodIdentityAssociation"),
        "{removed}"
    );
    assert_eq!(added.code, 0, "{added}");
    assert!(
        added.stdout.contains("= unchanged PodIdentityAssociation"),
        "the plan found them: {added}"
    );
    assert!(added.stdout.contains("Registered as Secret"), "{added}");
    // The end state is prod-eu's registration, whole.
    assert_eq!(association_roles(&ns).await, all_with(MANAGEMENT));
    let secrets = cluster_secrets(&ns);
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    assert!(
        secrets[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("eks-prod-eu-")
    );
    assert_eq!(entry_count("eu-west-1", "prod-eu", &prod_role).await, 1);
    assert_eq!(entry_count("us-east-1", "staging", &staging_role).await, 0);
    assert!(
        added.stdout.contains("Made again, as someone else removed them after this run planned: PodIdentityAssociation"),
        "{added}"
    );
    let again = add(
        &ns,
        &[
            "prod-eu",
            "--region",
            "eu-west-1",
            "--role-arn",
            &prod_role,
            "--yes",
        ],
    );
    assert!(again.stdout.contains("Nothing to change"), "{again}");
}

#[tokio::test]
async fn irsa_two_adds_with_different_roles_the_later_never_writes_over_the_annotations() {
    let ns = argocd_namespace("rc-irsa");
    let (staging_role, prod_role) = (role_for(&ns, "-s"), role_for(&ns, "-p"));
    let irsa = |cluster: &str, region: &str, role: &str, management: &str| {
        spawn_add_with(
            &ns,
            cluster,
            region,
            management,
            &["--role-arn", role, "--identity", "irsa"],
        )
    };
    // a has planned (no annotations) and waits in its check before writing; b annotates all.
    let (a, b) = race(
        "GetRole",
        &["RoleName=argocd-management"],
        || irsa("staging", "us-east-1", &staging_role, MANAGEMENT),
        || irsa("prod-eu", "eu-west-1", &prod_role, OTHER_MANAGEMENT),
    );
    assert_eq!(b.code, 0, "{b}");
    assert_eq!(a.code, 5, "{a}");
    assert!(
        a.stderr.contains(
            "annotation eks.amazonaws.com/role-arn was changed meanwhile by someone else"
        ) && a.stderr.contains(&format!(
            "it names role {OTHER_MANAGEMENT}, this run wanted {MANAGEMENT}"
        )),
        "{a}"
    );
    assert!(
        a.stdout
            .contains("Stopped part way: 0 write(s) done, 3 failed, 3 not done:"),
        "each of the three annotations, sent at once, is refused: {a}"
    );
    assert_irsa_annotations(&ns, Some(OTHER_MANAGEMENT));
    let secrets = cluster_secrets(&ns);
    assert_eq!(secrets.len(), 1, "only b's: {secrets:?}");
    assert_eq!(entry_count("us-east-1", "staging", &staging_role).await, 0);
}

#[tokio::test]
async fn irsa_service_accounts_changed_elsewhere_after_the_plan_are_still_annotated() {
    // The annotation is written as a compare-and-swap on the resourceVersion the plan read,
    // with no read before it: a service account another tool changed meanwhile (a label
    // here) answers 409, is read once, and is written since its annotation is as planned.
    let ns = argocd_namespace("rc-cas");
    let (a, labelled) = race(
        "GetRole",
        &["RoleName=argocd-management"],
        || {
            let irsa = ["--skip-access", "--identity", "irsa"];
            spawn_add_with(&ns, "prod-eu", "eu-west-1", MANAGEMENT, &irsa)
        },
        || {
            Command::new("kubectl")
                .args([
                    "-n",
                    &ns,
                    "label",
                    "serviceaccount",
                    "--all",
                    "team=platform",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        },
    );
    assert_eq!(labelled.code, 0, "{labelled}");
    assert_eq!(a.code, 0, "{a}");
    assert_irsa_annotations(&ns, Some(MANAGEMENT));
    for sa in SERVICE_ACCOUNTS {
        let labels = kubectl_json(&["-n", &ns, "get", "serviceaccount", sa, "-o", "json"]);
        assert_eq!(
            labels["metadata"]["labels"]["team"], "platform",
            "{sa}: {labels}"
        );
    }
}
