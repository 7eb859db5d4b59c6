//! The tool says who it is: User-Agent `kubectl-argocd-eks/<version>` on every Kubernetes
//! request (the sandbox apiserver's audit log) and the AWS SDK app name `kubectl-argocd-eks`
//! on every AWS call, assumed-role ones included (moto's request log keeps each User-Agent).

mod common;

use common::*;

const USER_AGENT: &str = concat!("kubectl-argocd-eks/", env!("CARGO_PKG_VERSION"));

#[test]
fn kubernetes_and_aws_requests_carry_the_tools_name() {
    let ns = argocd_namespace("ua");
    let other = env("ARGOCD_EKS_SANDBOX_OTHER_ACCOUNT");
    let discovery = format!("arn:aws:iam::{other}:role/argocd-deployer");
    let (moto_start, kube_start) = (moto_log_len(), audit_log_len());
    let run = add_yes(
        &ns,
        &[
            "team-b-dev",
            "--region",
            "us-east-1",
            "--assume-role",
            &discovery,
            "--role-arn",
            TARGET_ROLE,
            "--identity",
            "irsa",
        ],
    );

    let events = audit_events_since(kube_start);
    let agents: Vec<&str> = events
        .iter()
        .map(|e| e["userAgent"].as_str().unwrap_or("<none>"))
        .collect();
    assert!(
        events.len() >= 4,
        "too few audit events for an add: {agents:?}\n{run}"
    );
    assert!(
        agents.iter().all(|agent| *agent == USER_AGENT),
        "{agents:?}"
    );
    // Writes too, not only reads.
    assert!(
        events
            .iter()
            .any(|e| e["verb"] == "patch" && e["objectRef"]["namespace"] == ns.as_str()),
        "{events:?}"
    );

    let calls = moto_log().into_iter().skip(moto_start).collect::<Vec<_>>();
    let actions: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c["action"], c["user_agent"]))
        .collect();
    assert!(
        calls.iter().any(|c| c["action"] == "AssumeRole"),
        "{actions:#?}"
    );
    assert!(
        calls.iter().any(|c| c["action"] == "DescribeCluster"),
        "{actions:#?}"
    );
    for call in &calls {
        let agent = call["user_agent"].as_str().unwrap_or_default();
        assert!(
            agent
                .split(' ')
                .any(|part| part == "app/kubectl-argocd-eks"),
            "{actions:#?}"
        );
    }
}
