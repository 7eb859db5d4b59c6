//! Partial failure and resume, end to end: each write step of `add` (and `remove`) is failed in
//! turn on the real servers (the moto extension's faults for AWS, a ValidatingAdmissionPolicy
//! for Kubernetes); the output says what was done and what was not, in text and `-o json`, the
//! exit code is the failed write's, and the same command run again converges with no duplicate.
//!
//! Run through `scripts/test` (or `eval "$(scripts/sandbox env)"` first). Each test works in a
//! namespace of its own with a target role of its own, so faults match only its calls.

mod common;

use common::faults::{Denial, fail_aws, reset_aws_faults};
use common::*;
use serde_json::Value;

/// A target role ARN no other test uses (access entries are keyed by cluster and principal).
fn role_for(namespace: &str) -> String {
    format!("arn:aws:iam::123456789012:role/rs-{namespace}")
}

/// `add staging` (us-east-1) in `namespace` through pod identity, chained to `role`.
fn add_staging(namespace: &str, role: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "staging",
        "--region",
        "us-east-1",
        "--role-arn",
        role,
        "--yes",
    ];
    args.extend_from_slice(extra);
    add(namespace, &args)
}

/// The access entries of `role` on staging, each with its policies.
async fn entries(role: &str) -> Vec<Vec<String>> {
    let client = eks("us-east-1").await;
    let listed = client
        .list_access_entries()
        .cluster_name("staging")
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for principal in listed.access_entries().iter().filter(|p| *p == role) {
        let policies = client
            .list_associated_access_policies()
            .cluster_name("staging")
            .principal_arn(principal)
            .send()
            .await
            .unwrap();
        found.push(
            policies
                .associated_access_policies()
                .iter()
                .map(|p| p.policy_arn().unwrap().to_owned())
                .collect(),
        );
    }
    found
}

/// What is in place for the registration: (associations' service accounts, access entries
/// with their policies, cluster Secrets).
async fn state(namespace: &str, role: &str) -> (Vec<String>, Vec<Vec<String>>, usize) {
    let associations = association_ids(namespace)
        .await
        .into_iter()
        .map(|(sa, _)| sa)
        .collect();
    (
        associations,
        entries(role).await,
        cluster_secrets(namespace).len(),
    )
}

/// Whole, and no duplicate: one association per service account, one access entry with one
/// policy, one Secret.
async fn assert_whole(namespace: &str, role: &str) {
    let mut sas: Vec<String> = SERVICE_ACCOUNTS.iter().map(|s| (*s).to_owned()).collect();
    sas.sort();
    let (associations, entries, secrets) = state(namespace, role).await;
    assert_eq!(associations, sas, "one association per service account");
    assert_eq!(entries.len(), 1, "one access entry: {entries:?}");
    assert_eq!(
        entries[0],
        ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"]
    );
    assert_eq!(secrets, 1);
}

/// The AWS writes moto served since entry `start` (IAM and STS reads are POSTs too, so by
/// action).
fn aws_writes_since(start: usize) -> Vec<String> {
    moto_log()
        .into_iter()
        .skip(start)
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .filter(|action| {
            ["Create", "Associate", "Update", "Delete", "Put", "Tag"]
                .iter()
                .any(|verb| action.starts_with(verb))
        })
        .collect()
}

/// The steps of an `-o json` report, as "status subject".
fn steps(run: &Run) -> Vec<String> {
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run}"));
    assert_eq!(report["outcome"], "failed", "{run}");
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["status"].as_str().unwrap(),
                s["subject"].as_str().unwrap()
            )
        })
        .collect()
}

fn statuses(run: &Run) -> Vec<String> {
    steps(run)
        .iter()
        .map(|s| s.split(' ').next().unwrap().to_owned())
        .collect()
}

/// Run the same command again after the fault is gone: it makes only the writes not done,
/// then a third run has nothing to do.
async fn assert_rerun_converges(namespace: &str, role: &str, not_done: usize) {
    let moto = moto_log_len();
    let audit = audit_log_len();
    let run = add_staging(namespace, role, &[]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("Registered as Secret"), "{run}");
    let aws_writes = aws_writes_since(moto).len();
    let kube_writes = kube_writes_since(namespace, audit).len();
    assert_eq!(
        aws_writes + kube_writes,
        not_done,
        "only the writes not done: {run}"
    );
    assert_whole(namespace, role).await;
    let run = add_staging(namespace, role, &[]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("Nothing to change"), "{run}");
}

#[tokio::test]
async fn each_aws_write_that_fails_is_reported_and_the_same_command_converges() {
    // (action, texts its call holds, status, code, exit code, writes done before it)
    let cases: [(&str, &str, u16, &str, i32, usize); 4] = [
        (
            "CreatePodIdentityAssociation",
            "argocd-application-controller",
            500,
            "ServerException",
            1,
            0,
        ),
        (
            "CreatePodIdentityAssociation",
            "\"argocd-server\"",
            403,
            "AccessDeniedException",
            4,
            1,
        ),
        (
            "CreateAccessEntry",
            "",
            400,
            "InvalidRequestException",
            1,
            3,
        ),
        (
            "AssociateAccessPolicy",
            "",
            403,
            "AccessDeniedException",
            4,
            4,
        ),
    ];
    for (action, text, status, code, exit, done) in cases {
        let ns = argocd_namespace("rs-aws");
        let role = role_for(&ns);
        // Matched by this test's namespace (associations) or role (access): the SDK's own
        // retries of a 500 are failed too.
        let mut matching = vec![if action.contains("Pod") {
            ns.as_str()
        } else {
            role.as_str()
        }];
        if !text.is_empty() {
            matching.push(text);
        }
        fail_aws(action, &matching, status, code, 10);
        let run = add_staging(&ns, &role, &["-o", "json"]);
        reset_aws_faults();
        assert_eq!(run.code, exit, "{action}: {run}");
        assert!(
            run.stderr.contains("error: ")
                && run.stderr.contains(code)
                && run.stderr.contains(action),
            "{action}: the failed write's error: {run}"
        );
        let statuses = statuses(&run);
        let mut expected = vec!["done"; done];
        expected.push("failed");
        expected.resize(6, "not-done");
        assert_eq!(statuses, expected, "{action}: {run}");

        // What is there is what the report says was done.
        let (associations, entries, secrets) = state(&ns, &role).await;
        assert_eq!(associations.len(), done.min(3), "{action}");
        assert_eq!(entries.len(), usize::from(done > 3), "{action}");
        assert_eq!(secrets, 0, "{action}: the Secret goes last");

        assert_rerun_converges(&ns, &role, 6 - done).await;
    }
}

#[tokio::test]
async fn a_secret_the_hub_refuses_is_reported_with_identity_and_access_in_place() {
    let ns = argocd_namespace("rs-secret");
    let role = role_for(&ns);
    let probe = [
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "probe",
        "--dry-run=server",
    ];
    let denial = Denial::new(&ns, "", "secrets", &["CREATE", "UPDATE"], "true", &probe);
    let run = add_staging(&ns, &role, &[]);
    assert_eq!(run.code, 1, "admission's 422: {run}");
    assert!(
        run.stdout
            .contains("Stopped part way: 5 write(s) done, 1 failed, 0 not done:"),
        "{run}"
    );
    assert!(
        run.stdout.contains("  failed       create Secret ")
            && run.stdout.contains("the test denies this secrets write"),
        "{run}"
    );
    assert!(
        run.stdout.contains("Run the same command again to finish"),
        "{run}"
    );
    assert!(
        run.stderr.contains("error: could not apply Secret ")
            && run
                .stderr
                .contains("the test denies this secrets write. The hub refused the object")
            && !run.stderr.contains("Status {"),
        "{run}"
    );
    let (associations, entries, secrets) = state(&ns, &role).await;
    assert_eq!((associations.len(), entries.len(), secrets), (3, 1, 0));
    drop(denial);
    assert_rerun_converges(&ns, &role, 1).await;
}

#[tokio::test]
async fn irsa_annotations_go_together_the_one_the_hub_refuses_stops_the_run_and_the_rerun_finishes()
{
    let ns = argocd_namespace("rs-irsa");
    let role = role_for(&ns);
    let probe = [
        "-n",
        &ns,
        "annotate",
        "serviceaccount",
        "argocd-server",
        "probe=1",
        "--dry-run=server",
    ];
    let denial = Denial::new(
        &ns,
        "",
        "serviceaccounts",
        &["UPDATE"],
        "object.metadata.name == 'argocd-server'",
        &probe,
    );
    let irsa = ["--identity", "irsa"];
    let run = add_staging(&ns, &role, &irsa);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout
            .contains("Stopped part way: 2 write(s) done, 1 failed, 3 not done:"),
        "the three annotations go at once, the access entry and Secret after them: {run}"
    );
    for sa in [
        "argocd-application-controller",
        "argocd-applicationset-controller",
    ] {
        assert_eq!(
            irsa_annotation(&ns, sa).as_deref(),
            Some(MANAGEMENT),
            "{sa}"
        );
    }
    assert_eq!(irsa_annotation(&ns, "argocd-server"), None);
    assert!(cluster_secrets(&ns).is_empty());
    drop(denial);
    let run = add_staging(&ns, &role, &irsa);
    assert_eq!(run.code, 0, "{run}");
    assert_irsa_annotations(&ns, Some(MANAGEMENT));
    assert_eq!(entries(&role).await.len(), 1);
    assert_eq!(cluster_secrets(&ns).len(), 1);
    let run = add_staging(&ns, &role, &irsa);
    assert!(run.stdout.contains("Nothing to change"), "{run}");
}

/// The Secrets in `namespace` this tool manages, labelled for Argo CD or not.
fn managed_secrets(namespace: &str) -> Vec<serde_json::Value> {
    let listed = kubectl_json(&[
        "-n",
        namespace,
        "get",
        "secrets",
        "-l",
        "app.kubernetes.io/managed-by=kubectl-argocd-eks",
    ]);
    listed["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_remove_that_stops_part_way_is_finished_by_the_same_command() {
    let ns = argocd_namespace("rs-remove");
    let role = role_for(&ns);
    let run = add_staging(&ns, &role, &[]);
    assert_eq!(run.code, 0, "{run}");
    let ids = association_ids(&ns).await;
    // The second the plan deletes (controller, server, applicationset controller).
    let second = ids
        .iter()
        .find(|(sa, _)| sa == "argocd-server")
        .unwrap()
        .1
        .clone();
    fail_aws(
        "DeletePodIdentityAssociation",
        &[&second],
        403,
        "AccessDeniedException",
        1,
    );
    let remove = |extra: &[&str]| {
        let mut args = vec!["remove", "--argocd-namespace", &ns, "staging", "--yes"];
        args.extend_from_slice(extra);
        tool(&args)
    };
    let run = remove(&["-o", "json"]);
    reset_aws_faults();
    assert_eq!(run.code, 4, "{run}");
    let steps = steps(&run);
    let statuses: Vec<&str> = steps.iter().map(|s| s.split(' ').next().unwrap()).collect();
    assert_eq!(
        statuses,
        ["done", "done", "done", "failed", "not-done", "not-done"],
        "{steps:?}"
    );
    assert!(
        steps[0].starts_with("done Secret "),
        "unregistered first: {steps:?}"
    );
    assert!(
        steps[5].starts_with("not-done Secret "),
        "deleted last: {steps:?}"
    );
    // Argo CD no longer sees it (no secret-type label), but the Secret is there to be found.
    assert!(cluster_secrets(&ns).is_empty());
    assert_eq!(managed_secrets(&ns).len(), 1);
    assert_eq!(association_ids(&ns).await.len(), 2);
    assert!(entries(&role).await.is_empty());

    let run = remove(&[]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains("- delete PodIdentityAssociation"),
        "{run}"
    );
    assert!(association_ids(&ns).await.is_empty());
    assert!(managed_secrets(&ns).is_empty());
    let run = remove(&[]);
    assert_eq!(run.code, 6, "nothing left to remove: {run}");
}

/// Argo CD's three workloads in `namespace`, as objects (no controller runs them).
fn create_workloads(namespace: &str) {
    let statefulset = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "argocd-application-controller", "namespace": namespace},
        "spec": {
            "serviceName": "argocd-application-controller",
            "selector": {"matchLabels": {"app": "controller"}},
            "template": {
                "metadata": {"labels": {"app": "controller"}},
                "spec": {"serviceAccountName": "argocd-application-controller",
                         "containers": [{"name": "c", "image": "example.invalid/argocd"}]},
            },
        },
    });
    let file = std::env::temp_dir().join(format!("{namespace}-sts.json"));
    std::fs::write(&file, statefulset.to_string()).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(file);
    for name in ["argocd-server", "argocd-applicationset-controller"] {
        kubectl(&[
            "-n",
            namespace,
            "create",
            "deployment",
            name,
            "--image=example.invalid/argocd",
        ]);
    }
    // Identity changes are compared with these times in whole seconds.
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

#[tokio::test]
async fn a_restart_the_hub_refuses_is_reported_and_the_same_command_restarts() {
    let ns = argocd_namespace("rs-restart");
    let role = role_for(&ns);
    create_workloads(&ns);
    let probe = [
        "-n",
        &ns,
        "annotate",
        "statefulset",
        "argocd-application-controller",
        "probe=1",
        "--dry-run=server",
    ];
    let denial = Denial::new(&ns, "apps", "statefulsets", &["UPDATE"], "true", &probe);
    let run = add_staging(&ns, &role, &["--restart"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout
            .contains("Stopped part way: 6 write(s) done, 1 failed, 0 not done:"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("  failed       restart Argo CD's workloads in namespace"),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("could not restart argocd-application-controller"),
        "{run}"
    );
    assert_whole(&ns, &role).await;
    drop(denial);

    // Nothing left to write, but the workloads were last rolled before the identity was made.
    let run = add_staging(&ns, &role, &["--restart"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("Nothing to change"), "{run}");
    assert!(
        run.stdout.contains(
            "Restarted statefulsets/argocd-application-controller, deployments/argocd-server, deployments/argocd-applicationset-controller."
        ),
        "{run}"
    );
    let sts = kubectl_json(&[
        "-n",
        &ns,
        "get",
        "statefulset",
        "argocd-application-controller",
    ]);
    assert!(
        sts["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{sts}"
    );
    let run = add_staging(&ns, &role, &["--restart"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        !run.stdout.contains("Restarted"),
        "rolled after the identity: {run}"
    );
}
