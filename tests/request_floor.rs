//! `add` at the request floor: a fresh IRSA registration sends the hub what its plan and its
//! writes need and nothing more (the sandbox apiserver's audit log): the three reads at once,
//! the one name lookup the labelled list cannot answer, the writes as compare-and-swaps with
//! no read before each, and no list after them (the server-side apply answers are the
//! read-back). A second run reads and writes nothing more than the plan's reads. AWS (moto's
//! request log): the target's DescribeCluster, then, since the plan writes, the check's four
//! reads; the no-op re-run sends only the DescribeCluster.

mod common;

use common::*;

/// "verb resource" of each request the tool sent the hub after byte `start`, sorted.
fn hub_requests_since(start: u64) -> Vec<String> {
    let mut requests: Vec<String> = audit_events_since(start)
        .iter()
        .filter(|e| {
            e["userAgent"]
                .as_str()
                .is_some_and(|agent| agent.starts_with("kubectl-argocd-eks/"))
        })
        .map(|e| {
            let code = e["responseStatus"]["code"].as_i64().unwrap_or_default();
            let status = if code == 404 { " (404)" } else { "" };
            format!(
                "{} {}{status}",
                e["verb"].as_str().unwrap_or("?"),
                e["objectRef"]["resource"].as_str().unwrap_or("?")
            )
        })
        .collect();
    requests.sort();
    requests
}

/// The actions the tool asked moto for after entry `start`, sorted.
fn aws_requests_since(start: usize) -> Vec<String> {
    let mut actions: Vec<String> = moto_log()
        .into_iter()
        .skip(start)
        .filter(|r| {
            r["user_agent"]
                .as_str()
                .is_some_and(|agent| agent.contains("app/kubectl-argocd-eks"))
        })
        .map(|r| r["action"].as_str().unwrap_or("?").to_owned())
        .collect();
    actions.sort();
    actions
}

#[test]
fn a_fresh_irsa_add_sends_the_hub_its_floor_and_reads_nothing_after_its_writes() {
    let ns = argocd_namespace("floor");
    let args = [
        "prod-eu",
        "--region",
        "eu-west-1",
        "--identity",
        "irsa",
        "--skip-access",
    ];
    let start = settled_audit_log_len();
    let aws_start = moto_log_len();
    add_yes(&ns, &args);
    let first = hub_requests_since(start);
    assert_eq!(
        aws_requests_since(aws_start),
        [
            // The target's, and the hub's (its OIDC issuer, for the check).
            "DescribeCluster",
            "DescribeCluster",
            "GetCallerIdentity",
            "GetRole",
            "ListOpenIDConnectProviders"
        ],
        "a fresh add's requests to AWS"
    );
    assert_eq!(
        first,
        [
            "create selfsubjectrulesreviews",
            // The Secret's name, which the labelled list lacks on a fresh namespace.
            "get secrets (404)",
            "list secrets",
            "list serviceaccounts",
            "patch secrets",
            "patch serviceaccounts",
            "patch serviceaccounts",
            "patch serviceaccounts",
        ],
        "a fresh add's requests to the hub"
    );
    assert_irsa_annotations(&ns, Some(MANAGEMENT));

    let start = settled_audit_log_len();
    let aws_start = moto_log_len();
    let again = add_yes(&ns, &args);
    assert_eq!(
        aws_requests_since(aws_start),
        ["DescribeCluster"],
        "a no-op re-run sends the check's reads neither early nor late"
    );
    assert!(again.stdout.contains("Nothing to change"), "{again}");
    assert_eq!(
        hub_requests_since(start),
        [
            "create selfsubjectrulesreviews",
            "list secrets",
            "list serviceaccounts"
        ],
        "a no-op re-run reads the plan's lists and writes nothing"
    );
}
