//! End-to-end tests: the built binary against the sandbox's real kube-apiserver and moto.
//!
//! Run through `scripts/test`, which starts the sandbox and exports its environment
//! (`eval "$(scripts/sandbox env)"`). Each test works in a namespace of its own; tests run one
//! at a time (`--test-threads=1`) because EKS access entries on a seeded cluster are shared.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn irsa_chained_add_writes_the_design_secret_and_annotations_then_is_a_no_op() {
    let ns = argocd_namespace("irsa");
    let args = [
        "prod-eu",
        "--region",
        "eu-west-1",
        "--role-arn",
        TARGET_ROLE,
        "--identity",
        "irsa",
    ];
    let run = add_yes(&ns, &args);
    assert!(run.stdout.contains("+ create"), "{}", run.stdout);
    assert!(run.stdout.contains("rollout restart"), "{}", run.stdout);

    let described = eks("eu-west-1")
        .await
        .describe_cluster()
        .name("prod-eu")
        .send()
        .await
        .unwrap();
    let cluster = described.cluster().unwrap();
    let secrets = cluster_secrets(&ns);
    assert_eq!(secrets.len(), 1);
    let secret = &secrets[0];
    let name = secret["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("eks-prod-eu-eu-west-1-"), "{name}");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-argocd-eks"
    );
    let data = &secret["data"];
    assert_eq!(decode(&data["name"]), cluster.arn().unwrap());
    // Argo CD trims a trailing slash from server; so does the tool.
    assert_eq!(
        decode(&data["server"]),
        cluster.endpoint().unwrap().trim_end_matches('/')
    );
    let config: Value = serde_json::from_str(&decode(&data["config"])).unwrap();
    assert_eq!(
        config,
        serde_json::json!({
            "awsAuthConfig": {"clusterName": "prod-eu", "roleARN": TARGET_ROLE},
            "tlsClientConfig": {
                "insecure": false,
                "caData": cluster.certificate_authority().unwrap().data().unwrap()
            }
        })
    );
    assert_irsa_annotations(&ns, Some(MANAGEMENT));

    let before = resource_versions(&ns);
    let again = add(&ns, &args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("+ create") && !again.stdout.contains("~ update"));
    assert_eq!(
        resource_versions(&ns),
        before,
        "a no-op run changed objects"
    );
}

#[tokio::test]
async fn pod_identity_direct_add_creates_associations_then_is_a_no_op() {
    let ns = argocd_namespace("podid");
    // --identity auto: the sandbox hub has the eks-pod-identity-agent add-on.
    let cluster = ["arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu"];
    let run = add_yes(&ns, &cluster);
    assert!(
        run.stdout.contains("identity: pod-identity"),
        "{}",
        run.stdout
    );
    let mut expected: Vec<(String, String)> = SERVICE_ACCOUNTS
        .iter()
        .map(|sa| (sa.to_string(), MANAGEMENT.to_string()))
        .collect();
    expected.sort();
    assert_eq!(associations(&ns).await, expected);
    // Pod identity must not annotate them.
    assert_irsa_annotations(&ns, None);
    let secrets = cluster_secrets(&ns);
    let config: Value = serde_json::from_str(&decode(&secrets[0]["data"]["config"])).unwrap();
    assert_eq!(
        config["awsAuthConfig"],
        serde_json::json!({"clusterName": "prod-eu"})
    );

    let before = resource_versions(&ns);
    let log_start = moto_log_len();
    let again = add_yes(&ns, &cluster);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert_eq!(resource_versions(&ns), before);
    assert_eq!(moto_writes_since(log_start), Vec::<String>::new());
}

#[tokio::test]
async fn restricted_user_is_refused_with_exit_4_and_nothing_is_written() {
    let ns = argocd_namespace("restricted");
    let run = add(
        &ns,
        &[
            "prod-eu",
            "--region",
            "eu-west-1",
            "--identity",
            "irsa",
            "--yes",
            "--context",
            &env("ARGOCD_EKS_SANDBOX_RESTRICTED_CONTEXT"),
        ],
    );
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("permission denied"), "{}", run.stderr);
    assert!(run.stderr.contains("RBAC"), "{}", run.stderr);
    assert!(cluster_secrets(&ns).is_empty());
    assert_irsa_annotations(&ns, None);
}

#[tokio::test]
async fn someone_elses_secret_is_never_clobbered() {
    let ns = argocd_namespace("clobber");
    kubectl(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "mine",
        "--from-literal=server=https://elsewhere.example",
    ]);
    let before = resource_versions(&ns);
    let run = add(
        &ns,
        &[
            "prod-eu",
            "--region",
            "eu-west-1",
            "--identity",
            "irsa",
            "--secret-name",
            "mine",
            "--yes",
        ],
    );
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--secret-name"), "{}", run.stderr);
    assert_eq!(resource_versions(&ns), before);
}

#[tokio::test]
async fn another_role_on_a_service_account_is_kept_unless_replacing_and_other_annotations_survive()
{
    let ns = argocd_namespace("replace");
    let other = "arn:aws:iam::123456789012:role/other";
    annotate_server_as_someone_else(&ns, other);
    let base = [
        "prod-eu",
        "--region",
        "eu-west-1",
        "--identity",
        "irsa",
        "--yes",
    ];
    let refused = add(&ns, &base);
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--replace-identity"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        irsa_annotation(&ns, "argocd-server").as_deref(),
        Some(other)
    );
    assert!(cluster_secrets(&ns).is_empty());

    let mut replace = base.to_vec();
    replace.push("--replace-identity");
    let run = add(&ns, &replace);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("~ update"), "{}", run.stdout);
    assert_server_annotations(&ns, MANAGEMENT);
}

#[tokio::test]
async fn dry_run_and_missing_yes_write_nothing() {
    let ns = argocd_namespace("dry");
    let before = resource_versions(&ns);
    let base = ["prod-eu", "--region", "eu-west-1", "--identity", "irsa"];

    let mut dry = base.to_vec();
    dry.push("--dry-run");
    let run = add(&ns, &dry);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("+ create") && run.stdout.contains("Dry run"));

    let mut server = base.to_vec();
    server.extend(["--dry-run=server", "-o", "plan-json"]);
    let run = add(&ns, &server);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Three service accounts, the access entry and its policy, the Secret.
    assert_eq!(
        planned_kinds(&run, "dry-run-server"),
        [
            "annotateServiceAccount",
            "annotateServiceAccount",
            "annotateServiceAccount",
            "createAccessEntry",
            "associateAccessPolicy",
            "applySecret"
        ]
    );

    let run = add(&ns, &base);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(resource_versions(&ns), before);
}

#[tokio::test]
async fn bad_inputs_get_distinct_exit_codes_that_name_the_fix() {
    let ns = argocd_namespace("bad");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["no-such-cluster", "--region", "eu-west-1", "--yes"],
            6,
            "--region",
        ),
        (
            vec![
                "prod-eu",
                "--role-arn",
                "arn:aws:sts::123456789012:assumed-role/x/y",
            ],
            2,
            "role's own ARN",
        ),
        (
            vec![
                "prod-eu",
                "--identity",
                "pod-identity",
                "--region",
                "eu-west-1",
                "--context",
                "no-such-context",
            ],
            2,
            "--context",
        ),
    ];
    for (args, code, needle) in cases {
        let run = add(&ns, &args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    let no_argocd = tool(&[
        "add",
        "prod-eu",
        "--region",
        "eu-west-1",
        "--yes",
        "--identity",
        "irsa",
        "--argocd-namespace",
        "nowhere",
        "--management-role-arn",
        MANAGEMENT,
    ]);
    assert_eq!(no_argocd.code, 6, "{}", no_argocd.stderr);
    assert!(
        no_argocd.stderr.contains("--argocd-namespace"),
        "{}",
        no_argocd.stderr
    );
    let missing_role = tool(&["add", "prod-eu", "--argocd-namespace", &ns]);
    assert_eq!(missing_role.code, 2);
    assert!(missing_role.stderr.contains("--management-role-arn"));
    assert!(cluster_secrets(&ns).is_empty());
}

#[tokio::test]
async fn cross_account_target_gets_its_access_entry_and_a_second_run_makes_zero_writes() {
    let ns = argocd_namespace("xacct");
    let other = env("ARGOCD_EKS_SANDBOX_OTHER_ACCOUNT");
    let discovery = format!("arn:aws:iam::{other}:role/argocd-deployer");
    let args = [
        "team-b-prod",
        "--region",
        "eu-west-1",
        "--assume-role",
        discovery.as_str(),
        "--role-arn",
        TARGET_ROLE,
        "--identity",
        "pod-identity",
        "--access-namespaces",
        "apps,tools",
    ];
    let run = add_yes(&ns, &args);
    assert!(run.stdout.contains("AccessEntry"), "{}", run.stdout);

    // Read back in the target's account: the entry is for the target role, not the hub's.
    let eks = eks_in(&other, "eu-west-1").await;
    assert_access_entry(&eks, "team-b-prod", TARGET_ROLE).await;
    let policies = eks
        .list_associated_access_policies()
        .cluster_name("team-b-prod")
        .principal_arn(TARGET_ROLE)
        .send()
        .await
        .unwrap();
    let policy = &policies.associated_access_policies()[0];
    assert_eq!(
        policy.policy_arn(),
        Some("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    );
    let scope = policy.access_scope().unwrap();
    assert_eq!(scope.namespaces(), ["apps", "tools"]);
    let secret = &cluster_secrets(&ns)[0];
    assert_eq!(
        decode(&secret["data"]["name"]),
        format!("arn:aws:eks:eu-west-1:{other}:cluster/team-b-prod")
    );

    let (moto_start, kube_start) = (moto_log_len(), audit_log_len());
    let again = add_yes(&ns, &args);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert_eq!(moto_writes_since(moto_start), Vec::<String>::new());
    assert_eq!(kube_writes_since(&ns, kube_start), Vec::<String>::new());
    // The role's first credentials are asked for at start-up, and that answer is the one the
    // SDK uses: one AssumeRole a run, not the early one and the SDK's own.
    let assumed = moto_log()[moto_start..]
        .iter()
        .filter(|entry| entry["action"] == "AssumeRole")
        .count();
    assert_eq!(assumed, 1);
}

#[tokio::test]
async fn config_map_cluster_gets_the_aws_auth_entry_and_no_access_entry_call() {
    let ns = argocd_namespace("cfgmap");
    let start = moto_log_len();
    let run = add_yes(
        &ns,
        &["legacy", "--region", "eu-west-1", "--identity", "irsa"],
    );
    assert!(
        run.stdout
            .contains("- rolearn: arn:aws:iam::123456789012:role/argocd-management"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("system:masters"), "{}", run.stdout);
    let writes = moto_writes_since(start);
    assert!(
        !writes.iter().any(|w| w.contains("AccessEntry")),
        "{writes:?}"
    );
    assert_eq!(cluster_secrets(&ns).len(), 1);
}

#[tokio::test]
async fn several_clusters_in_two_regions_are_registered_in_one_run() {
    let ns = argocd_namespace("multi");
    let run = add_yes(
        &ns,
        &[
            "prod-eu",
            "staging",
            "--region",
            "eu-west-1",
            "--region",
            "us-east-1",
            "--identity",
            "irsa",
        ],
    );
    let mut names: Vec<String> = cluster_secrets(&ns)
        .iter()
        .map(|s| decode(&s["data"]["name"]))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu",
            "arn:aws:eks:us-east-1:123456789012:cluster/staging"
        ]
    );
    // One identity for the hub, whatever the number of clusters.
    assert_eq!(
        run.stdout.matches("annotation eks.amazonaws.com").count(),
        3
    );
}

#[tokio::test]
async fn restart_rolls_argo_cds_workloads_only_when_identity_changed() {
    let ns = argocd_namespace("restart");
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[
{{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{{"name":"argocd-application-controller","namespace":"{ns}"}},
 "spec":{{"serviceName":"x","selector":{{"matchLabels":{{"app":"c"}}}},"template":{{"metadata":{{"labels":{{"app":"c"}}}},"spec":{{"serviceAccountName":"argocd-application-controller","containers":[{{"name":"c","image":"quay.io/argoproj/argocd:v3.2.0"}}]}}}}}}}},
{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"argocd-server","namespace":"{ns}"}},
 "spec":{{"selector":{{"matchLabels":{{"app":"s"}}}},"template":{{"metadata":{{"labels":{{"app":"s"}}}},"spec":{{"serviceAccountName":"argocd-server","containers":[{{"name":"s","image":"quay.io/argoproj/argocd:v3.2.0"}}]}}}}}}}}]}}"#
    );
    let file = std::env::temp_dir().join(format!("{ns}.json"));
    std::fs::write(&file, manifest).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let restarted_at = |kind: &str, name: &str| {
        kubectl_json(&["-n", &ns, "get", kind, name])["spec"]["template"]["metadata"]["annotations"]
            ["kubectl.kubernetes.io/restartedAt"]
            .as_str()
            .map(str::to_owned)
    };
    let args = [
        "prod-eu",
        "--region",
        "eu-west-1",
        "--identity",
        "irsa",
        "--restart",
    ];
    let run = add_yes(&ns, &args);
    assert!(
        run.stdout.contains(
            "Restarted statefulsets/argocd-application-controller, deployments/argocd-server."
        ),
        "{}",
        run.stdout
    );
    let first = restarted_at("statefulset", "argocd-application-controller");
    assert!(first.is_some());
    assert!(restarted_at("deployment", "argocd-server").is_some());

    let again = add_yes(&ns, &args);
    assert!(!again.stdout.contains("Restarted"), "{}", again.stdout);
    assert_eq!(
        restarted_at("statefulset", "argocd-application-controller"),
        first
    );
}

/// The association's (role, targetRoleArn) for each of Argo CD's service accounts in `namespace`.
async fn association_roles(namespace: &str) -> Vec<(String, Option<String>)> {
    described_associations(namespace)
        .await
        .iter()
        .map(|association| {
            (
                association.role_arn().unwrap().to_owned(),
                association.target_role_arn().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn native_chaining_puts_the_target_role_in_the_associations_and_doctor_follows_it() {
    let ns = argocd_namespace("native");
    let target = format!("arn:aws:iam::123456789012:role/native-{ns}");
    let args = [
        "staging",
        "--region",
        "us-east-1",
        "--identity",
        "pod-identity",
        "--role-arn",
        &target,
        "--native-chaining",
    ];
    let run = add_yes(&ns, &args);
    assert!(run.stdout.contains(&format!("-> target {target}")), "{run}");
    let roles = association_roles(&ns).await;
    assert_eq!(roles.len(), 3, "{roles:?}");
    assert!(
        roles
            .iter()
            .all(|(role, chained)| role == MANAGEMENT && chained.as_deref() == Some(&target)),
        "{roles:?}"
    );
    // The Secret names no role: EKS hands the pods the target role's credentials.
    let secret = &cluster_secrets(&ns)[0];
    let config: Value = serde_json::from_str(&decode(&secret["data"]["config"])).unwrap();
    assert_eq!(
        config["awsAuthConfig"],
        serde_json::json!({"clusterName": "staging"})
    );
    assert_access_entry(&eks("us-east-1").await, "staging", &target).await;
    let again = add_yes(&ns, &args);
    assert!(again.stdout.contains("= unchanged"), "{again}");
    assert!(!again.stdout.contains("~ update"), "{again}");

    let doctor = tool(&["doctor", "--argocd-namespace", &ns]);
    assert!(
        doctor.stdout.contains(&format!("-> target {target}")),
        "{doctor}"
    );
    let access = doctor
        .stdout
        .lines()
        .find(|l| l.contains("the target lets the role in"))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(access.contains(&format!("{target}: ")), "{access}");
}

/// An EKS cluster in the hub account (us-east-1), in EKS Auto Mode or not.
async fn hub_candidate(name: &str, auto_mode: bool) {
    use aws_sdk_eks::types::{
        BlockStorage, ComputeConfigRequest, ElasticLoadBalancing, KubernetesNetworkConfigRequest,
        StorageConfigRequest, VpcConfigRequest,
    };
    let mut create = eks("us-east-1")
        .await
        .create_cluster()
        .name(name)
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster-role")
        .resources_vpc_config(VpcConfigRequest::builder().build());
    if auto_mode {
        create = create
            .compute_config(ComputeConfigRequest::builder().enabled(true).build())
            .storage_config(
                StorageConfigRequest::builder()
                    .block_storage(BlockStorage::builder().enabled(true).build())
                    .build(),
            )
            .kubernetes_network_config(
                KubernetesNetworkConfigRequest::builder()
                    .elastic_load_balancing(ElasticLoadBalancing::builder().enabled(true).build())
                    .build(),
            );
    }
    create.send().await.unwrap();
}

/// The identity mode `add --dry-run` picks on its own with `--hub-cluster hub`.
fn auto_identity_with_hub(namespace: &str, hub: &str) -> String {
    let run = add(
        namespace,
        &[
            "staging",
            "--region",
            "us-east-1",
            "--hub-cluster",
            hub,
            "--dry-run",
            "-o",
            "plan-json",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    report["plan"]["identity"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"))
        .to_owned()
}

#[tokio::test]
async fn the_pod_identity_agent_counts_on_auto_mode_and_as_a_daemon_set() {
    let ns = argocd_namespace("agent");
    let (auto, plain) = (format!("auto-{ns}"), format!("plain-{ns}"));
    hub_candidate(&auto, true).await;
    hub_candidate(&plain, false).await;
    assert_eq!(auto_identity_with_hub(&ns, &auto), "pod-identity");
    assert_eq!(auto_identity_with_hub(&ns, &plain), "irsa");

    let daemon_set = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "eks-pod-identity-agent", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "eks-pod-identity-agent"}},
            "template": {"metadata": {"labels": {"app": "eks-pod-identity-agent"}},
                "spec": {"containers": [{"name": "agent", "image": "eks/eks-pod-identity-agent"}]}}},
    });
    let file = std::env::temp_dir().join(format!("agent-{ns}.json"));
    std::fs::write(&file, daemon_set.to_string()).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let with_daemon_set = auto_identity_with_hub(&ns, &plain);
    kubectl(&[
        "-n",
        "kube-system",
        "delete",
        "daemonset",
        "eks-pod-identity-agent",
    ]);
    assert_eq!(with_daemon_set, "pod-identity");
}
