//! `add`'s check before writing, end to end against the sandbox's IAM, EKS and hub: a role whose
//! trust cannot work for the identity is refused (exit 7) with doctor's fix and nothing written,
//! a dry run shows it and exits 0, `--force` writes it, a right role passes, and a successful
//! run prints the next steps (a doctor command that passes, and an Application for the cluster).

mod common;

use common::*;
use serde_json::{Value, json};

const HUB: &str = "123456789012";
const IRSA_ROLE: &str = "arn:aws:iam::123456789012:role/argocd-irsa";
const WOULD_NOT_WORK: i32 = 7;

async fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config("us-east-1").await)
}

/// Create an IAM role in the hub account; returns its ARN.
async fn create_role(name: &str, trust: &Value) -> String {
    let role = iam()
        .await
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    role.role().unwrap().arn().to_owned()
}

/// A role name unique to the test's namespace (IAM allows 64 characters).
fn role_name(prefix: &str, namespace: &str) -> String {
    let name = format!("{prefix}-{namespace}");
    name[..name.len().min(64)].to_owned()
}

/// The IRSA trust Argo CD's service accounts of `namespace` need, for the hub's issuer.
async fn irsa_trust(namespace: &str) -> Value {
    let issuer = hub_issuer().await.trim_start_matches("https://").to_owned();
    let subjects: Vec<String> = SERVICE_ACCOUNTS
        .iter()
        .map(|sa| format!("system:serviceaccount:{namespace}:{sa}"))
        .collect();
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{HUB}:oidc-provider/{issuer}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{issuer}:sub"): subjects,
            format!("{issuer}:aud"): "sts.amazonaws.com",
        }}
    }]})
}

/// `add staging` in `namespace` with `role` and `identity`, then `extra`.
fn add_staging(namespace: &str, role: &str, identity: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "add",
        "staging",
        "--region",
        "us-east-1",
        "--argocd-namespace",
        namespace,
        "--management-role-arn",
        role,
        "--identity",
        identity,
    ];
    args.extend_from_slice(extra);
    tool(&args)
}

/// The `FAIL` line of the check before writing named `check`, and the fix under it.
fn failed_check(run: &Run, check: &str) -> (String, String) {
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("  FAIL ") && l.contains(check))
        .unwrap_or_else(|| panic!("no failed check {check:?}: {run}"));
    let fix = lines
        .get(at + 1)
        .filter(|l| l.trim_start().starts_with("fix: "))
        .unwrap_or_else(|| panic!("no fix under {:?}", lines[at]));
    (lines[at].to_owned(), (*fix).to_owned())
}

#[test]
fn irsa_with_the_pod_identity_role_is_refused_and_nothing_is_written() {
    let ns = argocd_namespace("chk-refuse");
    let before = resource_versions(&ns);
    let run = add_staging(&ns, MANAGEMENT, "irsa", &["--yes"]);
    assert_eq!(run.code, WOULD_NOT_WORK, "{run}");
    assert!(run.stderr.contains("--force"), "{run}");
    let (line, fix) = failed_check(
        &run,
        "the management role trusts each service account's web identity",
    );
    assert!(
        line.contains(&format!(
            "system:serviceaccount:{ns}:argocd-application-controller"
        )),
        "{line}"
    );
    // doctor's fix: the whole trust, the pod identity statement kept, the web identity added.
    assert!(
        fix.contains("aws iam update-assume-role-policy --role-name argocd-management"),
        "{fix}"
    );
    assert!(
        fix.contains("pods.eks.amazonaws.com") && fix.contains("AssumeRoleWithWebIdentity"),
        "{fix}"
    );
    assert_eq!(resource_versions(&ns), before, "nothing written");
    assert!(cluster_secrets(&ns).is_empty());

    // A dry run shows the same failure and exits as a dry run does.
    let dry = add_staging(&ns, MANAGEMENT, "irsa", &["--dry-run"]);
    assert_eq!(dry.code, 0, "{dry}");
    failed_check(
        &dry,
        "the management role trusts each service account's web identity",
    );
    assert!(
        dry.stdout
            .contains("Without --dry-run this would be refused (exit code 7)"),
        "{dry}"
    );

    // As a document: outcome refused, the failed check with its fix.
    let json_run = add_staging(&ns, MANAGEMENT, "irsa", &["--yes", "-o", "json"]);
    assert_eq!(json_run.code, WOULD_NOT_WORK, "{json_run}");
    let report: Value = serde_json::from_str(&json_run.stdout).unwrap();
    assert_eq!(report["outcome"], "refused");
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(
        failed[0]["fix"]
            .as_str()
            .unwrap()
            .contains("update-assume-role-policy")
    );
    assert_eq!(resource_versions(&ns), before, "nothing written");

    // --force writes it anyway, and says what is left to fix.
    let forced = add_staging(&ns, MANAGEMENT, "irsa", &["--yes", "--force"]);
    assert_eq!(forced.code, 0, "{forced}");
    assert!(
        forced
            .stdout
            .contains("Written with --force although 1 check(s) failed"),
        "{forced}"
    );
    assert_eq!(cluster_secrets(&ns).len(), 1);
    assert_irsa_annotations(&ns, Some(MANAGEMENT));
}

#[test]
fn the_irsa_role_fits_namespace_argocd_and_no_other() {
    // Dry runs: the shared namespace argocd keeps its identity for the other tests.
    let run = add_staging("argocd", IRSA_ROLE, "irsa", &["--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(", 0 failed, 0 cannot tell"), "{run}");
    assert!(!run.stdout.contains("would be refused"), "{run}");

    let ns = argocd_namespace("chk-ns");
    let run = add_staging(&ns, IRSA_ROLE, "irsa", &["--yes"]);
    assert_eq!(run.code, WOULD_NOT_WORK, "{run}");
    let (line, _) = failed_check(&run, "web identity");
    assert!(
        line.contains("system:serviceaccount:argocd:argocd-server"),
        "it names what the trust allows: {line}"
    );
    assert!(cluster_secrets(&ns).is_empty());
}

#[test]
fn the_pod_identity_role_passes_for_pod_identity() {
    let ns = argocd_namespace("chk-pod");
    let run = add_staging(&ns, MANAGEMENT, "pod-identity", &["--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(", 0 failed, 0 cannot tell"), "{run}");
}

#[tokio::test]
async fn a_pod_identity_role_without_tag_session_is_refused() {
    let ns = argocd_namespace("chk-tag");
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": "sts:AssumeRole"
    }]});
    let role = create_role(&role_name("notag", &ns), &trust).await;
    let run = add_staging(&ns, &role, "pod-identity", &["--yes"]);
    assert_eq!(run.code, WOULD_NOT_WORK, "{run}");
    let (line, fix) = failed_check(&run, "trusts pods.eks.amazonaws.com");
    assert!(line.contains("sts:TagSession"), "{line}");
    assert!(fix.contains("update-assume-role-policy"), "{fix}");
    let associations = association_ids(&ns).await;
    assert!(associations.is_empty(), "nothing written: {associations:?}");
}

#[tokio::test]
async fn a_target_role_that_does_not_trust_the_management_role_is_refused() {
    let ns = argocd_namespace("chk-chain");
    let role = create_role(&role_name("chain", &ns), &irsa_trust(&ns).await).await;
    // argocd-deployer trusts only argocd-management, not this role.
    let run = add_staging(
        &ns,
        &role,
        "irsa",
        &[
            "--role-arn",
            TARGET_ROLE,
            "--assume-role",
            TARGET_ROLE,
            "--yes",
        ],
    );
    assert_eq!(run.code, WOULD_NOT_WORK, "{run}");
    let (_, fix) = failed_check(&run, "the target role trusts the management role");
    assert!(fix.contains("--role-name argocd-deployer"), "{fix}");
    assert!(cluster_secrets(&ns).is_empty());

    // Without credentials for the target's account its trust cannot be read: a warning only.
    let run = add_staging(
        &ns,
        &role,
        "irsa",
        &["--role-arn", TARGET_ROLE, "--dry-run"],
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout
            .contains("  ??   the target role trusts the management role"),
        "{run}"
    );
    assert!(run.stdout.contains(", 0 failed, 1 cannot tell"), "{run}");
}

#[tokio::test]
async fn a_right_role_registers_and_the_next_steps_work() {
    let ns = argocd_namespace("chk-next");
    let role = create_role(&role_name("next", &ns), &irsa_trust(&ns).await).await;
    let run = add_staging(&ns, &role, "irsa", &["--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(", 0 failed, 0 cannot tell"), "{run}");
    assert!(run.stdout.contains("Next steps:"), "{run}");
    assert!(
        run.stdout
            .contains("rollout restart statefulset/argocd-application-controller"),
        "{run}"
    );

    // The doctor command it prints passes.
    let doctor = run
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("kubectl argocd-eks doctor "))
        .unwrap_or_else(|| panic!("no doctor command: {run}"));
    let words: Vec<&str> = doctor.split_whitespace().skip(2).collect();
    assert!(
        words.contains(&"--argocd-namespace") && words.contains(&ns.as_str()),
        "{doctor}"
    );
    let checked = tool(&words);
    assert_eq!(checked.code, 0, "{checked}");
    assert!(!checked.stdout.contains("FAIL"), "{checked}");

    // The Application aims at the Secret's server, in Argo CD's namespace.
    let lines: Vec<&str> = run.stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "apiVersion: argoproj.io/v1alpha1")
        .unwrap_or_else(|| panic!("no Application: {run}"));
    let yaml: String = lines[start..]
        .iter()
        .take_while(|l| l.starts_with("       "))
        .map(|l| format!("{}\n", &l[7..]))
        .collect();
    let app: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(app["kind"], "Application", "{yaml}");
    assert_eq!(app["metadata"]["namespace"], ns.as_str());
    let secret = &cluster_secrets(&ns)[0];
    assert_eq!(
        app["spec"]["destination"]["server"].as_str().unwrap(),
        decode(&secret["data"]["server"])
    );

    // A document has the doctor command as a field and no Application.
    let again = add_staging(&ns, &role, "irsa", &["--yes", "-o", "json"]);
    let report: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["outcome"], "unchanged");
    assert_eq!(report["doctorCommand"], doctor);
    assert!(!again.stdout.contains("argoproj.io/v1alpha1"), "{again}");
}
