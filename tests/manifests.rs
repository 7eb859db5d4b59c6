//! `add --dry-run -o yaml|json` speaks kubectl: the objects it would apply, as a List that
//! `kubectl apply -f -` takes, while `-o plan-json` keeps the plan as data.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// `kubectl apply --dry-run=server -f -` with `input` on stdin: (exit code, stdout + stderr).
fn kubectl_apply_server_dry_run(input: &str) -> (i32, String) {
    let mut child = Command::new("kubectl")
        .args([
            "apply",
            "--dry-run=server",
            "--server-side",
            "--field-manager",
            "gitops",
        ])
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn dry_run_yaml_and_json_are_a_list_kubectl_applies() {
    let ns = argocd_namespace("manifests");
    let base = ["prod-eu", "--region", "eu-west-1", "--identity", "irsa"];
    let before = resource_versions(&ns);
    for format in ["yaml", "json"] {
        let mut args = base.to_vec();
        args.extend(["--dry-run=client", "-o", format]);
        let run = add(&ns, &args);
        assert_eq!(run.code, 0, "{run}");
        let list: Value = if format == "json" {
            serde_json::from_str(&run.stdout).unwrap()
        } else {
            serde_saphyr::from_str(&run.stdout).unwrap()
        };
        assert_eq!(list["kind"], "List", "{}", run.stdout);
        let kinds: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ServiceAccount",
                "ServiceAccount",
                "Secret"
            ],
            "{}",
            run.stdout
        );
        let secret = &list["items"][3];
        assert_eq!(secret["apiVersion"], "v1");
        assert_eq!(
            secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
            "cluster"
        );
        assert_eq!(
            list["items"][0]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            MANAGEMENT
        );
        // The AWS writes are said, not dropped silently.
        assert!(
            run.stderr.contains("Not in the List") && run.stderr.contains("AccessEntry"),
            "{}",
            run.stderr
        );
        let (code, said) = kubectl_apply_server_dry_run(&run.stdout);
        assert_eq!(code, 0, "{said}");
        assert!(said.contains("secret/eks-prod-eu-eu-west-1-"), "{said}");
        assert!(said.contains("serviceaccount/argocd-server"), "{said}");
    }
    assert_eq!(resource_versions(&ns), before, "a dry run wrote something");

    let mut plan = base.to_vec();
    plan.extend(["--dry-run", "-o", "plan-json"]);
    let run = add(&ns, &plan);
    assert_eq!(run.code, 0, "{run}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["outcome"], "dry-run-client", "{}", run.stdout);
    assert!(report["plan"]["actions"].as_array().unwrap().len() >= 4);
}
