//! Helpers the end-to-end test binaries share: the sandbox's environment, kubectl, the tool.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

pub const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";
pub const TARGET_ROLE: &str = "arn:aws:iam::210987654321:role/argocd-deployer";
pub const SERVICE_ACCOUNTS: [&str; 3] = [
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
];

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests with scripts/test (it starts the sandbox)")
    })
}

/// A fresh namespace with Argo CD's three service accounts, unique to one test.
pub fn argocd_namespace(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!(
        "t-{test}-{}-{nanos:x}",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    kubectl(&["create", "namespace", &namespace]);
    for sa in SERVICE_ACCOUNTS {
        kubectl(&["-n", &namespace, "create", "serviceaccount", sa]);
    }
    namespace
}

pub fn kubectl_output(args: &[&str]) -> Output {
    Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl is on PATH (scripts/sandbox env puts the venv's kubectl there)")
}

pub fn kubectl(args: &[&str]) -> String {
    let output = kubectl_output(args);
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub fn kubectl_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&all)).unwrap()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn tool(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_kubectl-argocd_eks"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn add(namespace: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "add",
        "--argocd-namespace",
        namespace,
        "--management-role-arn",
        MANAGEMENT,
    ];
    args.extend_from_slice(extra);
    tool(&args)
}

pub fn cluster_secrets(namespace: &str) -> Vec<Value> {
    kubectl_json(&[
        "-n",
        namespace,
        "get",
        "secrets",
        "-l",
        "argocd.argoproj.io/secret-type=cluster",
    ])["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn decode(value: &Value) -> String {
    let text = value.as_str().unwrap();
    let bytes = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap()
        .stdout;
    String::from_utf8(bytes).unwrap()
}

pub fn irsa_annotation(namespace: &str, sa: &str) -> Option<String> {
    kubectl_json(&["-n", namespace, "get", "serviceaccount", sa])["metadata"]["annotations"]
        ["eks.amazonaws.com/role-arn"]
        .as_str()
        .map(str::to_owned)
}

pub fn resource_versions(namespace: &str) -> Vec<String> {
    let mut versions: Vec<String> = ["secrets", "serviceaccounts"]
        .iter()
        .flat_map(|kind| {
            kubectl_json(&["-n", namespace, "get", kind])["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| {
                    format!(
                        "{}={}",
                        item["metadata"]["name"], item["metadata"]["resourceVersion"]
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    versions.sort();
    versions
}

pub async fn eks(region: &str) -> aws_sdk_eks::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(region.to_owned()))
        .load()
        .await;
    aws_sdk_eks::Client::new(&config)
}

/// Pod identity associations in `namespace` on the sandbox hub, as (service account, role).
pub async fn associations(namespace: &str) -> Vec<(String, String)> {
    let client = eks("us-east-1").await;
    let list = client
        .list_pod_identity_associations()
        .cluster_name("argocd-hub")
        .namespace(namespace)
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for summary in list.associations() {
        let described = client
            .describe_pod_identity_association()
            .cluster_name("argocd-hub")
            .association_id(summary.association_id().unwrap())
            .send()
            .await
            .unwrap();
        let association = described.association().unwrap();
        found.push((
            association.service_account().unwrap().to_owned(),
            association.role_arn().unwrap().to_owned(),
        ));
    }
    found.sort();
    found
}

/// The write calls moto has seen for this namespace's associations (request log).
pub fn moto_writes_since(start: usize) -> Vec<String> {
    let output = Command::new("curl")
        .args([
            "-sf",
            &format!("{}/_sandbox/requests", env("ARGOCD_EKS_SANDBOX_MOTO_URL")),
        ])
        .output()
        .unwrap();
    let log: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    log[start.min(log.len())..]
        .iter()
        // STS AssumeRole is how --assume-role authenticates; it changes nothing.
        .filter(|r| r["method"] != "GET" && r["action"] != "AssumeRole")
        .map(|r| format!("{} {}", r["method"], r["action"]))
        .collect()
}

pub fn moto_log_len() -> usize {
    let output = Command::new("curl")
        .args([
            "-sf",
            &format!("{}/_sandbox/requests", env("ARGOCD_EKS_SANDBOX_MOTO_URL")),
        ])
        .output()
        .unwrap();
    serde_json::from_slice::<Vec<Value>>(&output.stdout)
        .unwrap()
        .len()
}

/// audit log after byte `start`.
pub fn kube_writes_since(namespace: &str, start: u64) -> Vec<String> {
    let path = format!("{}/audit.log", env("ARGOCD_EKS_SANDBOX_DIR"));
    let text = std::fs::read(&path).unwrap();
    String::from_utf8_lossy(&text[start as usize..])
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| {
            event["objectRef"]["namespace"] == namespace
                && matches!(
                    event["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete")
                )
        })
        .map(|event| format!("{} {}", event["verb"], event["objectRef"]["resource"]))
        .collect()
}

pub fn audit_log_len() -> u64 {
    std::fs::metadata(format!("{}/audit.log", env("ARGOCD_EKS_SANDBOX_DIR")))
        .unwrap()
        .len()
}

/// An EKS client acting in `account` through sts:AssumeRole, as `--assume-role` does.
pub async fn eks_in(account: &str, region: &str) -> aws_sdk_eks::Client {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(region.to_owned()))
        .load()
        .await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(format!(
        "arn:aws:iam::{account}:role/argocd-deployer"
    ))
    .configure(&base)
    .build()
    .await;
    let config = base
        .to_builder()
        .credentials_provider(aws_sdk_eks::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build();
    aws_sdk_eks::Client::new(&config)
}
