//! `list` and `remove` end to end: the built binary against the sandbox's real kube-apiserver and
//! moto, after registering clusters with `add`.
//!
//! Run through `scripts/test` (or `eval "$(scripts/sandbox env)"` first). Each test works in a
//! namespace of its own, and gives the target its own role ARN, so that access entries (which are
//! per cluster and principal, shared by every test) never collide.

mod common;

use common::*;
use serde_json::Value;

/// A target role ARN no other test uses (access entries are keyed by cluster and principal).
fn role_for(namespace: &str, suffix: &str) -> String {
    format!("arn:aws:iam::123456789012:role/lc-{namespace}{suffix}")
}

/// `list` or `remove` in `namespace`.
fn command(namespace: &str, name: &str, extra: &[&str]) -> Run {
    let mut args = vec![name, "--argocd-namespace", namespace];
    args.extend_from_slice(extra);
    tool(&args)
}

fn secret_names(namespace: &str) -> Vec<String> {
    let mut names: Vec<String> = cluster_secrets(namespace)
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Write requests to moto since `start` whose path mentions any of `needles` (other tests run
/// at the same time, so only this test's objects are looked at).
fn moto_writes_mentioning(start: usize, needles: &[String]) -> Vec<String> {
    moto_write_requests_since(start)
        .iter()
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            needles.iter().any(|needle| path.contains(needle.as_str()))
        })
        .map(|r| format!("{} {}", r["method"], r["path"]))
        .collect()
}

fn all_service_accounts() -> Vec<String> {
    let mut names: Vec<String> = SERVICE_ACCOUNTS.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn pod_identity_stays_until_the_last_registration_goes() {
    let ns = argocd_namespace("lc-podid");
    let role = role_for(&ns, "");
    // Two targets, one management role through pod identity (auto: the hub has the agent).
    add_yes(
        &ns,
        &[
            "prod-eu",
            "staging",
            "--region",
            "eu-west-1",
            "--region",
            "us-east-1",
            "--role-arn",
            &role,
        ],
    );
    assert_eq!(secret_names(&ns).len(), 2);
    let before = association_ids(&ns).await;
    let names: Vec<String> = before.iter().map(|(sa, _)| sa.clone()).collect();
    assert_eq!(names, all_service_accounts());
    assert!(access_entries("eu-west-1", "prod-eu").await.contains(&role));
    assert!(access_entries("us-east-1", "staging").await.contains(&role));

    let run = command(&ns, "remove", &["prod-eu", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("- delete Secret"), "{run}");
    assert!(
        run.stdout.contains("= keep   PodIdentityAssociation")
            && run.stdout.contains("still needed by Secret"),
        "{run}"
    );
    let left = secret_names(&ns);
    assert_eq!(left.len(), 1);
    assert!(left[0].starts_with("eks-staging-us-east-1-"), "{left:?}");
    assert_eq!(association_ids(&ns).await, before, "associations must stay");
    assert!(!access_entries("eu-west-1", "prod-eu").await.contains(&role));
    assert!(access_entries("us-east-1", "staging").await.contains(&role));

    let run = command(
        &ns,
        "remove",
        &[
            "arn:aws:eks:us-east-1:123456789012:cluster/staging",
            "--yes",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains("- delete PodIdentityAssociation"),
        "{run}"
    );
    assert!(run.stdout.contains("rollout restart"), "{run}");
    assert!(secret_names(&ns).is_empty());
    assert_eq!(association_ids(&ns).await, Vec::<(String, String)>::new());
    assert!(!access_entries("us-east-1", "staging").await.contains(&role));
}

#[tokio::test]
async fn irsa_annotations_go_only_when_the_tool_set_them() {
    let ns = argocd_namespace("lc-irsa");
    // Someone else set argocd-server's annotation, with the value add would set.
    annotate_server_as_someone_else(&ns, MANAGEMENT);
    add_yes(
        &ns,
        &[
            "prod-eu",
            "--region",
            "eu-west-1",
            "--identity",
            "irsa",
            "--skip-access",
        ],
    );
    assert_irsa_annotations(&ns, Some(MANAGEMENT));

    let run = command(&ns, "remove", &["prod-eu", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains("= keep   ServiceAccount ")
            && run.stdout.contains(
                "/argocd-server annotation eks.amazonaws.com/role-arn  (set by someone else"
            ),
        "{run}"
    );
    assert!(secret_names(&ns).is_empty());
    assert_eq!(irsa_annotation(&ns, "argocd-application-controller"), None);
    assert_eq!(
        irsa_annotation(&ns, "argocd-applicationset-controller"),
        None
    );
    assert_server_annotations(&ns, MANAGEMENT);
}

#[tokio::test]
async fn access_entries_go_per_target_and_only_when_tagged() {
    let ns = argocd_namespace("lc-access");
    let role = role_for(&ns, "");
    // The same principal on two targets.
    add_yes(
        &ns,
        &[
            "staging",
            "prod-eu",
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--identity",
            "irsa",
            "--role-arn",
            &role,
        ],
    );
    let run = command(&ns, "remove", &["staging", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        !access_entries("us-east-1", "staging").await.contains(&role),
        "{run}"
    );
    assert!(
        access_entries("eu-west-1", "prod-eu").await.contains(&role),
        "{run}"
    );
    // prod-eu still needs Argo CD's identity.
    assert_irsa_annotations(&ns, Some(MANAGEMENT));

    // An entry someone else made (no managed-by tag) stays, even when nothing uses it.
    let theirs = role_for(&ns, "-theirs");
    eks("us-east-1")
        .await
        .create_access_entry()
        .cluster_name("staging")
        .principal_arn(&theirs)
        .send()
        .await
        .unwrap();
    add_yes(
        &ns,
        &[
            "staging",
            "--region",
            "us-east-1",
            "--identity",
            "irsa",
            "--role-arn",
            &theirs,
        ],
    );
    let run = command(&ns, "remove", &["staging", "prod-eu", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(&format!(
            "= keep   AccessEntry {theirs} on EKS cluster staging  (not created by kubectl-argocd-eks"
        )),
        "{run}"
    );
    assert!(
        access_entries("us-east-1", "staging")
            .await
            .contains(&theirs)
    );
    eks("us-east-1")
        .await
        .delete_access_entry()
        .cluster_name("staging")
        .principal_arn(&theirs)
        .send()
        .await
        .unwrap();
    assert!(!access_entries("eu-west-1", "prod-eu").await.contains(&role));
    assert!(secret_names(&ns).is_empty());
    assert_irsa_annotations(&ns, None);
}

fn listed(run: &Run) -> Vec<Value> {
    assert_eq!(run.code, 0, "{run}");
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    document["clusters"].as_array().unwrap().clone()
}

fn by_cluster<'a>(clusters: &'a [Value], name: &str) -> &'a Value {
    clusters
        .iter()
        .find(|c| c["cluster"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {clusters:?}"))
}

#[tokio::test]
async fn list_shows_every_eks_registration_with_mode_role_and_health() {
    let ns = argocd_namespace("lc-list");
    let role = role_for(&ns, "");
    add_yes(
        &ns,
        &[
            "prod-eu",
            "--region",
            "eu-west-1",
            "--identity",
            "irsa",
            "--skip-access",
        ],
    );
    add_yes(
        &ns,
        &[
            "staging",
            "--region",
            "us-east-1",
            "--identity",
            "irsa",
            "--role-arn",
            &role,
            "--skip-access",
        ],
    );
    // Made by others: AWS's managed Argo CD format, one for a cluster that does not exist,
    // and one that is not EKS at all.
    for (name, server) in [
        (
            "capability",
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu",
        ),
        (
            "gone",
            "arn:aws:eks:eu-west-1:123456789012:cluster/no-such-cluster",
        ),
        ("elsewhere", "https://k8s.example.org"),
    ] {
        kubectl(&[
            "-n",
            &ns,
            "create",
            "secret",
            "generic",
            name,
            &format!("--from-literal=server={server}"),
            &format!("--from-literal=name={name}"),
        ]);
        kubectl(&[
            "-n",
            &ns,
            "label",
            "secret",
            name,
            "argocd.argoproj.io/secret-type=cluster",
        ]);
    }

    let text = command(&ns, "list", &[]);
    assert_eq!(text.code, 0, "{text}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(
        lines[0].starts_with("SECRET") && lines[0].ends_with("HEALTH"),
        "{text}"
    );
    // Aligned: every column starts where its header does.
    let health_at = lines[0].find("HEALTH").unwrap();
    let staging = lines.iter().find(|l| l.contains(" staging ")).unwrap();
    assert_eq!(&staging[health_at..], "ok", "{text}");
    assert!(
        staging.contains(&role) && staging.contains(" irsa "),
        "{text}"
    );
    assert!(text.stdout.contains("1 other cluster Secret(s)"), "{text}");
    assert_eq!(lines.len(), 6, "{text}");

    let clusters = listed(&command(&ns, "list", &["-o", "json"]));
    assert_eq!(clusters.len(), 4, "{clusters:?}");
    let prod = clusters
        .iter()
        .find(|c| c["secret"].as_str().unwrap().starts_with("eks-prod-eu-"))
        .unwrap();
    assert_eq!(prod["mode"], "irsa");
    assert_eq!(prod["role"], "direct");
    assert_eq!(prod["region"], "eu-west-1");
    assert_eq!(prod["account"], "123456789012");
    assert_eq!(prod["managedByUs"], true);
    assert_eq!(prod["health"], "ok");
    let staging = by_cluster(&clusters, "staging");
    assert_eq!(
        (&staging["role"], &staging["health"]),
        (&Value::from(role.clone()), &Value::from("ok"))
    );
    let capability = clusters
        .iter()
        .find(|c| c["secret"] == "capability")
        .unwrap();
    assert_eq!(capability["mode"], "capability");
    assert_eq!(capability["health"], "ok");
    assert_eq!(capability["managedByUs"], false);
    assert_eq!(
        by_cluster(&clusters, "no-such-cluster")["health"],
        "missing"
    );

    let yaml = command(&ns, "list", &["-o", "yaml"]);
    assert_eq!(yaml.code, 0, "{yaml}");
    assert!(yaml.stdout.contains("health: ok"), "{yaml}");

    // The cluster's CA rotated since the Secret was written.
    let secret = cluster_secrets(&ns)
        .into_iter()
        .find(|s| s["metadata"]["name"] == staging["secret"])
        .unwrap();
    patch_secret(&secret, |data| {
        data["config"]["tlsClientConfig"]["caData"] = "T0xEIENB".into();
    });
    let clusters = listed(&command(&ns, "list", &["-o", "json"]));
    assert_eq!(by_cluster(&clusters, "staging")["health"], "ca-rotated");
    assert_eq!(by_cluster(&clusters, "prod-eu")["health"], "ok");
}

#[tokio::test]
async fn unknown_clusters_and_dry_runs_write_nothing() {
    let ns = argocd_namespace("lc-dry");
    let role = role_for(&ns, "");
    add_yes(
        &ns,
        &["prod-eu", "--region", "eu-west-1", "--role-arn", &role],
    );
    let ids: Vec<String> = association_ids(&ns)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids.len(), 3);
    let mut needles = ids.clone();
    needles.push(role.clone());
    needles.push(ns.clone());
    let before = resource_versions(&ns);
    let log_start = moto_log_len();

    let unknown = command(&ns, "remove", &["no-such-cluster", "--yes"]);
    assert_eq!(unknown.code, 6, "{unknown}");
    assert!(unknown.stderr.contains("no-such-cluster"), "{unknown}");
    assert!(
        unknown.stderr.contains("= prod-eu (eu-west-1)"),
        "{unknown}"
    );

    for args in [
        vec!["prod-eu", "--dry-run"],
        vec!["prod-eu", "--dry-run=server"],
        // No terminal and no --yes: refused before anything is written.
        vec!["prod-eu"],
    ] {
        let run = command(&ns, "remove", &args);
        if args.len() == 1 {
            assert_eq!(run.code, 2, "{run}");
            assert!(run.stderr.contains("--yes"), "{run}");
        } else {
            assert_eq!(run.code, 0, "{args:?}: {run}");
            assert!(run.stdout.contains("Dry run"), "{run}");
            assert!(run.stdout.contains("- delete AccessEntry"), "{run}");
        }
    }
    let json = command(&ns, "remove", &["prod-eu", "--dry-run", "-o", "json"]);
    assert_eq!(json.code, 0, "{json}");
    assert_eq!(
        planned_kinds(&json, "dry-run-client"),
        [
            "deleteSecret",
            "deleteAccessEntry",
            "deletePodIdentityAssociation",
            "deletePodIdentityAssociation",
            "deletePodIdentityAssociation"
        ]
    );

    // A hand-made registration for another cluster of the same name makes the name ambiguous.
    kubectl(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "hand-made",
        "--from-literal=server=https://ABC.gr7.us-west-2.eks.amazonaws.com",
        r#"--from-literal=config={"awsAuthConfig":{"clusterName":"prod-eu"},"tlsClientConfig":{"insecure":false}}"#,
    ]);
    kubectl(&[
        "-n",
        &ns,
        "label",
        "secret",
        "hand-made",
        "argocd.argoproj.io/secret-type=cluster",
    ]);
    let before_ambiguous = resource_versions(&ns);
    let ambiguous = command(&ns, "remove", &["prod-eu", "--yes"]);
    assert_eq!(ambiguous.code, 2, "{ambiguous}");
    assert!(ambiguous.stderr.contains("hand-made"), "{ambiguous}");
    assert_eq!(resource_versions(&ns), before_ambiguous);

    assert_eq!(
        moto_writes_mentioning(log_start, &needles),
        Vec::<String>::new()
    );
    assert_eq!(association_ids(&ns).await.len(), 3);
    assert!(access_entries("eu-west-1", "prod-eu").await.contains(&role));
    let mut after = resource_versions(&ns);
    after.retain(|v| !v.contains("hand-made"));
    assert_eq!(after, before);

    // The hand-made Secret can go by its name; identity stays for prod-eu.
    let run = command(&ns, "remove", &["hand-made", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("not by kubectl-argocd-eks"), "{run}");
    assert_eq!(secret_names(&ns).len(), 1);
    assert_eq!(association_ids(&ns).await.len(), 3);

    let run = command(&ns, "remove", &["prod-eu", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(association_ids(&ns).await.is_empty());
}

#[tokio::test]
async fn an_access_entry_another_argocd_on_the_hub_uses_stays() {
    // Two Argo CD instances on one hub, both direct mode (IRSA) with the same management role,
    // registering the same target: they share its access entry.
    let first = argocd_namespace("lc-shared-a");
    let second = argocd_namespace("lc-shared-b");
    let management = role_for(&first, "-mgmt");
    for ns in [&first, &second] {
        let run = tool(&[
            "add",
            "staging",
            "--region",
            "us-east-1",
            "--identity",
            "irsa",
            "--argocd-namespace",
            ns,
            "--management-role-arn",
            &management,
            "--yes",
            // A made-up role: this test is about the shared access entry.
            "--force",
        ]);
        assert_eq!(run.code, 0, "{run}");
    }
    assert!(
        access_entries("us-east-1", "staging")
            .await
            .contains(&management)
    );

    let run = command(&first, "remove", &["staging", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout
            .contains(&format!("= keep   AccessEntry {management} on EKS cluster staging  (still needed by Secret {second}/")),
        "{run}"
    );
    assert!(
        access_entries("us-east-1", "staging")
            .await
            .contains(&management)
    );

    let run = command(&second, "remove", &["staging", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        !access_entries("us-east-1", "staging")
            .await
            .contains(&management),
        "{run}"
    );
}

/// A cluster Secret as `argocd cluster add` writes it (util/db CreateCluster): named by
/// URIToSecretName, annotated `managed-by: argocd.argoproj.io`, with argocd-manager's token.
fn create_argocd_made_secret(namespace: &str, server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap()
        .to_ascii_lowercase();
    let hash = server.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let name = format!("cluster-{host}-{hash}");
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
            "annotations": {"managed-by": "argocd.argoproj.io"}},
        "stringData": {"name": "staging-context", "server": server,
            "config": r#"{"bearerToken":"argocd-manager-token","tlsClientConfig":{"insecure":false}}"#},
    });
    let file = std::env::temp_dir().join(format!("{name}-{}.json", std::process::id()));
    std::fs::write(&file, secret.to_string()).unwrap();
    kubectl(&["create", "-f", file.to_str().unwrap()]);
    name
}

#[tokio::test]
async fn one_secret_per_server_and_argocd_cluster_add_secrets_are_updated_in_place() {
    let ns = argocd_namespace("lc-onesecret");
    let described = eks("us-east-1")
        .await
        .describe_cluster()
        .name("staging")
        .send()
        .await
        .unwrap();
    let server = described.cluster().unwrap().endpoint().unwrap().to_owned();
    let theirs = create_argocd_made_secret(&ns, server.trim_end_matches('/'));
    let role = role_for(&ns, "");
    let args = [
        "staging",
        "--region",
        "us-east-1",
        "--role-arn",
        &role,
        "--identity",
        "irsa",
    ];

    let run = add_yes(&ns, &args);
    assert!(run.stdout.contains("argocd-manager"), "{run}");
    assert_eq!(secret_names(&ns), vec![theirs.clone()], "no second Secret");
    let secret = &cluster_secrets(&ns)[0];
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-argocd-eks"
    );
    assert_eq!(
        secret["metadata"]["annotations"]["managed-by"],
        "argocd.argoproj.io"
    );
    assert_eq!(decode(&secret["data"]["name"]), "staging-context");
    let config: Value = serde_json::from_str(&decode(&secret["data"]["config"])).unwrap();
    assert_eq!(config["awsAuthConfig"]["clusterName"], "staging");
    assert_eq!(config["awsAuthConfig"]["roleARN"], role.as_str());
    assert!(config.get("bearerToken").is_none(), "{config}");
    // A second run changes nothing; another --secret-name for the same server is refused.
    let again = add(&ns, &[&["--yes"][..], &args].concat());
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("= unchanged Secret"), "{again}");
    let mut named = args.to_vec();
    named.extend(["--secret-name", "staging-two", "--yes"]);
    let refused = add(&ns, &named);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(
        refused.stderr.contains(&format!("--secret-name {theirs}")),
        "{refused}"
    );
    assert_eq!(secret_names(&ns), vec![theirs]);
}

#[tokio::test]
async fn remove_cleans_up_a_registration_argocd_cluster_rm_left_behind() {
    let ns = argocd_namespace("lc-clusterrm");
    let role = role_for(&ns, "");
    add_yes(
        &ns,
        &["staging", "--region", "us-east-1", "--role-arn", &role],
    );
    let name = secret_names(&ns).remove(0);
    assert!(access_entries("us-east-1", "staging").await.contains(&role));
    // What `argocd cluster rm` does to a Secret Argo CD did not make: drop the secret-type label.
    kubectl(&[
        "-n",
        &ns,
        "label",
        "secret",
        &name,
        "argocd.argoproj.io/secret-type-",
    ]);
    assert!(secret_names(&ns).is_empty(), "Argo CD no longer sees it");

    let run = command(&ns, "remove", &["staging", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(&format!("- delete Secret {ns}/{name}")),
        "{run}"
    );
    let left = kubectl_output(&["-n", &ns, "get", "secret", &name]);
    assert!(!left.status.success(), "the Secret is gone");
    assert!(!access_entries("us-east-1", "staging").await.contains(&role));
    assert_eq!(association_ids(&ns).await, Vec::<(String, String)>::new());
}
