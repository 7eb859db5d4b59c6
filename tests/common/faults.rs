//! Faults the end-to-end tests set on the real servers: the moto extension's `/_sandbox/faults`
//! (the next matching AWS calls fail, or wait first) and ValidatingAdmissionPolicies that make
//! the kube-apiserver deny one Kubernetes write (a CEL rule, no webhook).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{env, kubectl, kubectl_output};

fn post(path: &str, body: &Value) -> Value {
    let output = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("{}{path}", env("ARGOCD_EKS_SANDBOX_MOTO_URL")),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "POST {path}: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The next `count` calls of `action` whose path or body holds every text of `matching` fail
/// with `status` and error `code`.
pub fn fail_aws(action: &str, matching: &[&str], status: u16, code: &str, count: u32) {
    let answer = post(
        "/_sandbox/faults",
        &json!({"action": action, "match": matching, "status": status, "code": code, "count": count}),
    );
    assert!(answer.is_array(), "the fault was refused: {answer}");
}

/// The next call of `action` whose path or body holds every text of `matching` waits `seconds`
/// before it is served.
pub fn delay_aws(action: &str, matching: &[&str], seconds: f64) {
    let answer = post(
        "/_sandbox/faults",
        &json!({"action": action, "match": matching, "delay": seconds}),
    );
    assert!(answer.is_array(), "the fault was refused: {answer}");
}

/// Wait until every fault was used up (a held call has arrived and is being held).
pub fn wait_until_faults_taken() {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = Command::new("curl")
            .args([
                "-sS",
                &format!("{}/_sandbox/faults", env("ARGOCD_EKS_SANDBOX_MOTO_URL")),
            ])
            .output()
            .unwrap();
        let left: Value = serde_json::from_slice(&output.stdout).unwrap();
        if left.as_array().is_some_and(Vec::is_empty) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no call took the fault in 30 s: {left}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Take every fault away.
pub fn reset_aws_faults() {
    post("/_sandbox/faults/reset", &json!({}));
}

/// A ValidatingAdmissionPolicy and its binding that deny `operations` on `resource` (of API
/// `group`) in `namespace` when CEL `deny_when` holds; deleted when dropped.
pub struct Denial {
    name: String,
    probe: Vec<String>,
}

impl Denial {
    /// Deny, and wait until the apiserver enforces it: `probe` (kubectl args of a server-side
    /// dry run that the policy denies) is refused.
    pub fn new(
        namespace: &str,
        group: &str,
        resource: &str,
        operations: &[&str],
        deny_when: &str,
        probe: &[&str],
    ) -> Self {
        // Policy names are cluster-wide; the namespace is unique to the test.
        let name = format!("deny-{resource}-{namespace}");
        let policy = json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [group],
                    "apiVersions": ["v1"],
                    "operations": operations,
                    "resources": [resource],
                }]},
                "validations": [{
                    "expression": format!("!({deny_when})"),
                    "message": format!("the test denies this {resource} write"),
                }],
            },
        });
        let binding = json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": namespace},
                }},
            },
        });
        for object in [policy, binding] {
            let file = std::env::temp_dir()
                .join(format!("{name}-{}.json", object["kind"].as_str().unwrap()));
            std::fs::write(&file, object.to_string()).unwrap();
            kubectl(&["apply", "-f", file.to_str().unwrap()]);
            let _ = std::fs::remove_file(file);
        }
        let denial = Denial {
            name,
            probe: probe.iter().map(|a| (*a).to_owned()).collect(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let output = kubectl_output(probe);
            if String::from_utf8_lossy(&output.stderr).contains("the test denies this") {
                return denial;
            }
            assert!(
                Instant::now() < deadline,
                "the policy was not enforced in 20 s: {output:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Denial {
    fn drop(&mut self) {
        for kind in [
            "validatingadmissionpolicybinding",
            "validatingadmissionpolicy",
        ] {
            let _ = kubectl_output(&["delete", kind, &self.name, "--ignore-not-found"]);
        }
        // The apiserver stops enforcing it a moment later: wait until the probe passes.
        let probe: Vec<&str> = self.probe.iter().map(String::as_str).collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !kubectl_output(&probe).status.success() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
