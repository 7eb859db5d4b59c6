//! `doctor` end to end: a correct setup passes, and each mistake people really make, made in
//! the sandbox one at a time, is named with its fix (exit code 3).

mod common;

use common::*;
use serde_json::{Value, json};

/// The sandbox hub's OIDC issuer without `https://`, and its IAM OIDC provider ARN.
async fn hub_oidc() -> (String, String) {
    let issuer = hub_issuer().await.trim_start_matches("https://").to_owned();
    let provider = format!("arn:aws:iam::123456789012:oidc-provider/{issuer}");
    (issuer, provider)
}

/// An IRSA trust policy for Argo CD's service accounts in `namespace`.
async fn irsa_trust(namespace: &str, with_audience: bool) -> Value {
    let (issuer, provider) = hub_oidc().await;
    let subjects: Vec<String> = SERVICE_ACCOUNTS
        .iter()
        .map(|sa| format!("system:serviceaccount:{namespace}:{sa}"))
        .collect();
    let mut condition = json!({ format!("{issuer}:sub"): subjects });
    if with_audience {
        condition[format!("{issuer}:aud")] = json!("sts.amazonaws.com");
    }
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": condition}
    }]})
}

/// Create an IAM role in the hub account; returns its ARN.
async fn create_role(name: &str, trust: &Value) -> String {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    role.role().unwrap().arn().to_owned()
}

/// A management role (named after `prefix`) whose IRSA trust is right for `namespace`; its ARN.
async fn irsa_role(namespace: &str, prefix: &str) -> String {
    create_role(
        &unique(prefix, namespace),
        &irsa_trust(namespace, true).await,
    )
    .await
}

/// Register `staging` (direct mode unless `extra` says otherwise) with role `role`.
fn register(namespace: &str, role: &str, identity: &str, extra: &[&str]) {
    register_cluster(namespace, "staging", "us-east-1", role, identity, extra);
}

/// Register `cluster` in `region` with management role `role`, which must succeed. The setups
/// here are broken on purpose for doctor to name, and add refuses those: `--force` writes them.
fn register_cluster(
    namespace: &str,
    cluster: &str,
    region: &str,
    role: &str,
    identity: &str,
    extra: &[&str],
) -> Run {
    let mut args = vec![
        "add",
        cluster,
        "--region",
        region,
        "--argocd-namespace",
        namespace,
        "--management-role-arn",
        role,
        "--identity",
        identity,
        "--yes",
        "--force",
    ];
    args.extend_from_slice(extra);
    let run = tool(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

fn doctor(namespace: &str) -> Run {
    tool(&["doctor", "--argocd-namespace", namespace])
}

/// The doctor line for `check`, which must have failed, and its fix line.
fn failure(run: &Run, check: &str) -> (String, String) {
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.contains("FAIL") && line.contains(check))
        .unwrap_or_else(|| panic!("no failed check {check:?} in:\n{}", run.stdout));
    let fix = lines
        .get(at + 1)
        .filter(|line| line.trim_start().starts_with("fix:"))
        .unwrap_or_else(|| panic!("no fix after {:?}", lines[at]));
    (lines[at].to_owned(), (*fix).to_owned())
}

fn unique(prefix: &str, namespace: &str) -> String {
    let name = format!("{prefix}-{namespace}");
    name[..name.len().min(64)].to_owned()
}

/// The start of the connect check's line for a session of role `role_name` in the hub account.
fn authenticated_as(role_name: &str) -> String {
    format!("authenticated as arn:aws:sts::123456789012:assumed-role/{role_name}/")
}

#[tokio::test]
async fn a_correct_irsa_setup_passes_every_check() {
    let ns = argocd_namespace("docok");
    let role = irsa_role(&ns, "ok").await;
    register(&ns, &role, "irsa", &[]);
    let run = doctor(&ns);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("the management role trusts each service account's web identity"),
        "{}",
        run.stdout
    );
    // `staging` is served by the sandbox apiserver, which checks EKS tokens as EKS does.
    let connect = run
        .stdout
        .lines()
        .find(|line| line.contains("(connect)"))
        .unwrap();
    let session = authenticated_as(role.rsplit('/').next().unwrap());
    assert!(connect.contains(&session), "{connect}");
    assert!(connect.contains("system:masters"), "{connect}");
}

#[tokio::test]
async fn a_role_not_mapped_into_the_target_is_rejected_when_connecting() {
    let ns = argocd_namespace("docmap");
    let role = irsa_role(&ns, "map").await;
    register(&ns, &role, "irsa", &["--skip-access"]);
    let run = doctor(&ns);
    let (line, fix) = failure(&run, "(connect)");
    assert!(line.contains("answered 401"), "{line}");
    assert!(fix.contains("access entry"), "{fix}");
    let (_, access_fix) = failure(&run, "access entry with a policy");
    assert!(
        access_fix.contains("aws eks create-access-entry"),
        "{access_fix}"
    );
}

#[tokio::test]
async fn a_trust_policy_for_another_namespace_is_named() {
    let ns = argocd_namespace("docns");
    let role = create_role(&unique("ns", &ns), &irsa_trust("argocd", true).await).await;
    register(&ns, &role, "irsa", &[]);
    let run = doctor(&ns);
    let (line, fix) = failure(&run, "trusts each service account's web identity");
    assert!(
        line.contains(&format!("system:serviceaccount:{ns}:argocd-server")),
        "{line}"
    );
    assert!(
        line.contains("system:serviceaccount:argocd:argocd-server"),
        "{line}"
    );
    assert!(fix.contains("aws iam update-assume-role-policy"), "{fix}");
    assert!(
        fix.contains(&format!("system:serviceaccount:{ns}:argocd-server")),
        "{fix}"
    );
}

#[tokio::test]
async fn a_trust_policy_without_the_audience_is_named() {
    let ns = argocd_namespace("docaud");
    let role = create_role(&unique("aud", &ns), &irsa_trust(&ns, false).await).await;
    register(&ns, &role, "irsa", &[]);
    let (line, fix) = failure(&doctor(&ns), "checks the token audience");
    assert!(line.contains(":aud"), "{line}");
    assert!(fix.contains("sts.amazonaws.com"), "{fix}");
}

#[tokio::test]
async fn pod_identity_trust_without_tag_session_is_named() {
    let ns = argocd_namespace("doctag");
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": "sts:AssumeRole"
    }]});
    let role = create_role(&unique("tag", &ns), &trust).await;
    register(&ns, &role, "pod-identity", &[]);
    let (line, fix) = failure(&doctor(&ns), "trusts pods.eks.amazonaws.com");
    assert!(line.contains("sts:TagSession"), "{line}");
    assert!(fix.contains("sts:TagSession"), "{fix}");
}

#[tokio::test]
async fn an_assumed_role_arn_in_the_secret_is_named() {
    let ns = argocd_namespace("docsts");
    let role = irsa_role(&ns, "sts").await;
    register(&ns, &role, "irsa", &[]);
    patch_secret(&cluster_secrets(&ns)[0], |data| {
        data["config"]["awsAuthConfig"]["roleARN"] =
            json!("arn:aws:sts::123456789012:assumed-role/deployer/session");
    });
    let (line, fix) = failure(&doctor(&ns), "roleARN is an IAM role ARN");
    assert!(line.contains("assumed-role"), "{line}");
    assert!(fix.contains("arn:aws:iam::<account>:role/<name>"), "{fix}");
}

#[tokio::test]
async fn a_region_mismatch_is_named() {
    let ns = argocd_namespace("docregion");
    let role = irsa_role(&ns, "region").await;
    register_cluster(&ns, "prod-eu", "eu-west-1", &role, "irsa", &[]);
    patch_secret(&cluster_secrets(&ns)[0], |data| {
        data["name"] = json!("arn:aws:eks:us-east-1:123456789012:cluster/prod-eu");
    });
    let (line, fix) = failure(&doctor(&ns), "server's region match the cluster");
    assert!(
        line.contains("the server is in eu-west-1, the cluster in us-east-1"),
        "{line}"
    );
    assert!(fix.contains("kubectl argocd-eks add"), "{fix}");
}

#[tokio::test]
async fn a_rotated_ca_is_named() {
    let ns = argocd_namespace("docca");
    let role = irsa_role(&ns, "ca").await;
    register(&ns, &role, "irsa", &[]);
    patch_secret(&cluster_secrets(&ns)[0], |data| {
        data["config"]["tlsClientConfig"]["caData"] = json!("T0xEQ0E=");
    });
    let (line, fix) = failure(&doctor(&ns), "server and caData match DescribeCluster");
    assert!(line.contains("rotated"), "{line}");
    assert!(fix.contains("--secret-name"), "{fix}");
}

#[tokio::test]
async fn role_arn_equal_to_the_management_role_needs_a_self_assume_statement() {
    let ns = argocd_namespace("docself");
    let role = irsa_role(&ns, "self").await;
    register(&ns, &role, "irsa", &["--role-arn", &role]);
    let (line, fix) = failure(&doctor(&ns), "trusts itself");
    assert!(line.contains("sts:AssumeRole"), "{line}");
    assert!(
        fix.contains("remove roleARN") && fix.contains(&role),
        "{fix}"
    );
}

#[tokio::test]
async fn pods_older_than_the_identity_are_named() {
    let ns = argocd_namespace("docpods");
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "argocd-server-old", "namespace": ns},
        "spec": {"serviceAccountName": "argocd-server",
                 "containers": [{"name": "s", "image": "quay.io/argoproj/argocd:v3.2.0"}]}});
    let file = std::env::temp_dir().join(format!("{ns}-pod.json"));
    std::fs::write(&file, pod.to_string()).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    // Creation times have one-second resolution.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let role = irsa_role(&ns, "pods").await;
    register(&ns, &role, "irsa", &[]);
    let (line, fix) = failure(&doctor(&ns), "pods started after the identity last changed");
    assert!(line.contains("argocd-server-old"), "{line}");
    assert!(fix.contains("rollout restart"), "{fix}");
}

#[tokio::test]
async fn doctor_speaks_json_for_machines() {
    let ns = argocd_namespace("docjson");
    let role = create_role(&unique("json", &ns), &irsa_trust(&ns, false).await).await;
    register(&ns, &role, "irsa", &[]);
    let run = tool(&["doctor", "--argocd-namespace", &ns, "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let sections: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let failed: Vec<&Value> = sections
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap())
        .filter(|f| f["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["fix"]
            .as_str()
            .unwrap()
            .contains("update-assume-role-policy")
    );
}

#[tokio::test]
async fn a_capability_registration_names_the_cluster_by_arn_and_lets_its_role_in() {
    let ns = argocd_namespace("doccap");
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "capabilities.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]
    }]});
    let role = create_role(&unique("cap", &ns), &trust).await;
    let args = [
        "add",
        "staging",
        "--region",
        "us-east-1",
        "--argocd-namespace",
        &ns,
        "--capability-role",
        &role,
        "--yes",
    ];
    let run = tool(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("identity: capability"),
        "{}",
        run.stdout
    );
    let secret = &cluster_secrets(&ns)[0];
    assert_eq!(
        decode(&secret["data"]["server"]),
        "arn:aws:eks:us-east-1:123456789012:cluster/staging"
    );
    assert!(secret["data"].get("config").is_none(), "{secret}");
    assert_irsa_annotations(&ns, None);
    assert_access_entry(&eks("us-east-1").await, "staging", &role).await;
    let again = tool(&args);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );

    let run = tool(&[
        "doctor",
        "--argocd-namespace",
        &ns,
        "--capability-role",
        &role,
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("EKS Argo CD capability"),
        "{}",
        run.stdout
    );
    let session = authenticated_as(&unique("cap", &ns));
    assert!(run.stdout.contains(&session), "{}", run.stdout);
    let unnamed = doctor(&ns);
    assert_eq!(unnamed.code, 0, "{}", unnamed.stdout);
    assert!(
        unnamed.stdout.contains("pass --capability-role"),
        "{}",
        unnamed.stdout
    );
}

#[tokio::test]
async fn policy_create_then_add_then_doctor_passes_from_nothing() {
    let ns = argocd_namespace("docnew");
    let management = format!("arn:aws:iam::123456789012:role/{}", unique("mgmt", &ns));
    let target = format!("arn:aws:iam::123456789012:role/{}", unique("target", &ns));
    let roles = [
        "--argocd-namespace",
        &ns,
        "--identity",
        "irsa",
        "--management-role-arn",
        &management,
        "--role-arn",
        &target,
    ];
    let mut policy = vec!["policy", "--create", "--yes"];
    policy.extend_from_slice(&roles);
    let created = tool(&policy);
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    let mut add = vec!["add", "staging", "--region", "us-east-1", "--yes"];
    add.extend_from_slice(&roles);
    let added = tool(&add);
    assert_eq!(added.code, 0, "{}\n{}", added.stdout, added.stderr);

    let run = doctor(&ns);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    for check in [
        "the management role may sts:AssumeRole the target role",
        "the target role trusts the management role",
    ] {
        assert!(
            run.stdout.contains(&format!("ok   {check}")),
            "{check}:\n{}",
            run.stdout
        );
    }
    let session = authenticated_as(&unique("target", &ns));
    assert!(run.stdout.contains(&session), "{}", run.stdout);
}

/// A CONFIG_MAP-only EKS cluster in moto whose endpoint and CA are the sandbox apiserver's.
async fn config_map_cluster(name: &str) {
    cluster_with_mode(name, aws_sdk_eks::types::AuthenticationMode::ConfigMap).await;
}

/// An EKS cluster in moto with authentication `mode`, at the sandbox apiserver's endpoint and CA.
async fn cluster_with_mode(name: &str, mode: aws_sdk_eks::types::AuthenticationMode) {
    let ca = hub_cluster()
        .await
        .certificate_authority()
        .unwrap()
        .data()
        .unwrap()
        .to_owned();
    create_cluster("us-east-1", name, mode).await;
    let body = json!({"account": "123456789012", "region": "us-east-1", "name": name,
        "endpoint": env("ARGOCD_EKS_SANDBOX_APISERVER"), "caData": ca});
    let url = format!(
        "{}/_sandbox/eks/cluster",
        env("ARGOCD_EKS_SANDBOX_MOTO_URL")
    );
    let status = std::process::Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(body.to_string())
        .arg(url)
        .status()
        .unwrap();
    assert!(status.success());
}

fn write_aws_auth(map_roles: &str) {
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": map_roles}});
    let file = std::env::temp_dir().join(format!("aws-auth-{}.json", std::process::id()));
    std::fs::write(&file, config_map.to_string()).unwrap();
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        file.to_str().unwrap(),
    ]);
}

#[tokio::test]
async fn an_assumed_role_arn_in_aws_auth_is_named() {
    let ns = argocd_namespace("docawsauth");
    let cluster = unique("cm", &ns);
    config_map_cluster(&cluster).await;
    let role = irsa_role(&ns, "awsauth").await;
    let run = register_cluster(&ns, &cluster, "us-east-1", &role, "irsa", &[]);
    assert!(run.stdout.contains("mapRoles"), "{}", run.stdout);
    let name = role.rsplit('/').next().unwrap();

    write_aws_auth(&format!(
        "- rolearn: arn:aws:sts::123456789012:assumed-role/{name}/argocd\n  username: argocd\n  groups: [system:masters]\n"
    ));
    let run = doctor(&ns);
    let (line, fix) = failure(&run, "aws-auth maps the role");
    assert!(line.contains("assumed-role session ARN"), "{line}");
    assert!(fix.contains("edit configmap aws-auth"), "{fix}");
    assert!(
        run.stdout.contains(&format!("- rolearn: {role}\n")),
        "{}",
        run.stdout
    );

    write_aws_auth(&format!(
        "- rolearn: {role}\n  username: argocd\n  groups: [system:masters]\n"
    ));
    let run = doctor(&ns);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("aws-auth maps the role"))
        .unwrap();
    assert!(line.trim_start().starts_with("ok"), "{line}");
}

/// doctor's line for `check` (which must be there).
fn line_of<'a>(run: &'a Run, check: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.contains(check))
        .unwrap_or_else(|| panic!("no {check:?} in:\n{run}"))
}

#[tokio::test]
async fn api_and_config_map_takes_an_aws_auth_mapping_whose_group_rbac_binds() {
    let ns = argocd_namespace("docboth");
    let cluster = unique("both", &ns);
    cluster_with_mode(
        &cluster,
        aws_sdk_eks::types::AuthenticationMode::ApiAndConfigMap,
    )
    .await;
    let role = irsa_role(&ns, "both").await;
    // No access entry: the role is let in by aws-auth alone.
    register_cluster(
        &ns,
        &cluster,
        "us-east-1",
        &role,
        "irsa",
        &["--skip-access"],
    );
    let group = unique("readers", &ns);
    // As aws-iam-authenticator reads it: any key case, the ARN in another case.
    write_aws_auth(&format!(
        "- roleARN: {}\n  UserName: argocd\n  Groups: [{group}]\n",
        role.to_uppercase().replace("ARN:AWS:IAM", "arn:aws:iam")
    ));
    let check = "the target lets the role in";
    let line = line_of(&doctor(&ns), check).to_owned();
    assert!(line.trim_start().starts_with("FAIL"), "{line}");
    assert!(
        line.contains(&group) && line.contains("no RoleBinding or ClusterRoleBinding"),
        "{line}"
    );

    kubectl(&[
        "create",
        "clusterrolebinding",
        &group,
        "--clusterrole=view",
        &format!("--group={group}"),
    ]);
    let run = doctor(&ns);
    let line = line_of(&run, check);
    assert!(line.trim_start().starts_with("ok"), "{line}\n{run}");
    assert!(
        line.contains(&format!("ClusterRoleBinding {group}")),
        "{line}"
    );
}

// ---- printed fixes, applied as printed ----

const OTHER: &str = "210987654321";

/// A 12-digit account id no other test (nor the seed) uses; moto makes it on first use.
fn fresh_account() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("8{:011}", nanos % 100_000_000_000)
}

/// IAM as `account`: the hub's own credentials, or a role's there (as `--assume-role` gets them).
async fn iam_as(account: &str) -> aws_sdk_iam::Client {
    if account == "123456789012" {
        return aws_sdk_iam::Client::new(&sdk_config("us-east-1").await);
    }
    let role = format!("arn:aws:iam::{account}:role/argocd-deployer");
    aws_sdk_iam::Client::new(&assumed_config(&role, "us-east-1", Some("doctor-tests")).await)
}

async fn create_role_in(account: &str, name: &str, trust: &Value) -> String {
    let role = iam_as(account)
        .await
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    role.role().unwrap().arn().to_owned()
}

async fn put_inline(account: &str, role: &str, name: &str, document: &Value) {
    iam_as(account)
        .await
        .put_role_policy()
        .role_name(role)
        .policy_name(name)
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap();
}

async fn trust_of(account: &str, role: &str) -> Vec<Value> {
    let got = iam_as(account)
        .await
        .get_role()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let text = got.role().unwrap().assume_role_policy_document().unwrap();
    let doc = kubectl_argocd_eks_policy(text);
    doc["Statement"].as_array().unwrap().clone()
}

async fn inline_of(account: &str, role: &str, name: &str) -> Vec<Value> {
    let got = iam_as(account)
        .await
        .get_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .unwrap();
    let doc = kubectl_argocd_eks_policy(got.policy_document());
    doc["Statement"].as_array().unwrap().clone()
}

/// A policy document as IAM returns it (percent-encoded JSON) as a JSON value, statements a list.
fn kubectl_argocd_eks_policy(text: &str) -> Value {
    let text = percent_decode(text);
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    if doc["Statement"].is_object() {
        doc["Statement"] = json!([doc["Statement"].clone()]);
    }
    doc
}

fn percent_decode(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// Environment for the aws CLI acting in `account`: the hub's own keys, or a role's session there.
async fn aws_cli_env(account: &str) -> Vec<(String, String)> {
    use aws_credential_types::provider::ProvideCredentials;
    if account == "123456789012" {
        return Vec::new();
    }
    let role = format!("arn:aws:iam::{account}:role/argocd-deployer");
    let config = assumed_config(&role, "us-east-1", Some("doctor-fix")).await;
    let credentials = config
        .credentials_provider()
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    let mut env = vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
    ];
    if let Some(token) = credentials.session_token() {
        env.push(("AWS_SESSION_TOKEN".to_owned(), token.to_owned()));
    }
    env
}

/// Runs, with the aws CLI, every distinct `aws iam ...` fix of doctor's failed checks, in the
/// account the fix names (`in account N: aws iam ...`); returns the commands it ran.
async fn apply_printed_fixes(run: &Run) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    for line in run.stdout.lines() {
        let Some(fix) = line.trim_start().strip_prefix("fix: ") else {
            continue;
        };
        let Some(at) = fix.find("aws iam ") else {
            continue;
        };
        let command = fix[at..].to_owned();
        let account = fix[..at]
            .split("in account ")
            .nth(1)
            .map(|rest| rest[..12].to_owned())
            .unwrap_or_else(|| "123456789012".to_owned());
        let key = format!("{account} {command}");
        if done.contains(&key) {
            continue;
        }
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .envs(aws_cli_env(&account).await)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        done.push(key);
    }
    done
}

/// A statement of someone else's that no fix may remove.
fn foreign_trust() -> Value {
    json!({"Sid": "SomeoneElses", "Effect": "Allow",
           "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
}

#[tokio::test]
async fn printed_irsa_trust_fixes_keep_every_statement_and_make_doctor_pass() {
    let ns = argocd_namespace("docfixirsa");
    let (issuer, provider) = hub_oidc().await;
    // Someone else's statement, and one for Argo CD in namespace argocd with no audience check.
    let argocd = json!({"Effect": "Allow", "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {format!("{issuer}:sub"):
            "system:serviceaccount:argocd:argocd-server"}}});
    let trust = json!({"Version": "2012-10-17", "Statement": [foreign_trust(), argocd]});
    let name = unique("fixirsa", &ns);
    let role = create_role(&name, &trust).await;
    // roleARN = the management role: the trust must also let the role assume itself.
    register(&ns, &role, "irsa", &["--role-arn", &role]);
    let before = doctor(&ns);
    failure(&before, "trusts each service account's web identity");
    failure(&before, "checks the token audience");
    failure(&before, "trusts itself");

    let applied = apply_printed_fixes(&before).await;
    assert_eq!(applied.len(), 1, "one document for one role: {applied:#?}");
    let after = doctor(&ns);
    assert_eq!(after.code, 0, "{after}");
    let statements = trust_of("123456789012", &name).await;
    assert_eq!(statements[0], foreign_trust(), "{statements:#?}");
    // Argo CD's statement for namespace argocd is kept, now checking the audience.
    assert_eq!(
        statements[1]["Condition"]["StringEquals"][format!("{issuer}:aud")],
        "sts.amazonaws.com"
    );
    assert_eq!(statements.len(), 4, "{statements:#?}");
}

#[tokio::test]
async fn printed_pod_identity_chain_fixes_keep_every_statement_and_make_doctor_pass() {
    let ns = argocd_namespace("docfixpods");
    let management_name = unique("fixmgmt", &ns);
    let target_name = unique("fixtarget", &ns);
    let management = format!("arn:aws:iam::123456789012:role/{management_name}");
    let pods_without_tags = json!({"Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"});
    create_role(
        &management_name,
        &json!({"Version": "2012-10-17", "Statement": [foreign_trust(), pods_without_tags]}),
    )
    .await;
    // Our inline policy already holds a role it may assume, and a statement of someone else's.
    let old_target = format!("arn:aws:iam::{OTHER}:role/old-target");
    let s3 = json!({"Sid": "Theirs", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
    let assume_old = json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": old_target});
    put_inline(
        "123456789012",
        &management_name,
        "kubectl-argocd-eks",
        &json!({"Version": "2012-10-17", "Statement": [s3.clone(), assume_old]}),
    )
    .await;
    let target_trust = json!({"Version": "2012-10-17", "Statement": [foreign_trust(),
        {"Effect": "Allow", "Principal": {"AWS": management}, "Action": "sts:AssumeRole"}]});
    let target = create_role_in(OTHER, &target_name, &target_trust).await;
    register(&ns, &management, "pod-identity", &["--role-arn", &target]);

    let reach = format!("arn:aws:iam::{OTHER}:role/argocd-deployer");
    let doctor_run = || tool(&["doctor", "--argocd-namespace", &ns, "--assume-role", &reach]);
    let before = doctor_run();
    failure(&before, "trusts pods.eks.amazonaws.com");
    failure(&before, "may sts:AssumeRole the target role");
    failure(&before, "the target role trusts the management role");

    let applied = apply_printed_fixes(&before).await;
    assert_eq!(applied.len(), 3, "{applied:#?}");
    let after = doctor_run();
    assert_eq!(after.code, 0, "{after}");
    let statements = trust_of("123456789012", &management_name).await;
    assert_eq!(statements[0], foreign_trust(), "{statements:#?}");
    let inline = inline_of("123456789012", &management_name, "kubectl-argocd-eks").await;
    assert!(inline.contains(&s3), "{inline:#?}");
    let resources: Vec<&Value> = inline.iter().map(|s| &s["Resource"]).collect();
    let text = serde_json::to_string(&resources).unwrap();
    assert!(
        text.contains(&old_target) && text.contains(&target),
        "{inline:#?}"
    );
    let statements = trust_of(OTHER, &target_name).await;
    assert_eq!(statements[0], foreign_trust(), "{statements:#?}");
}

#[tokio::test]
async fn cross_account_irsa_reads_the_provider_and_role_in_the_management_roles_account() {
    let ns = argocd_namespace("docxirsa");
    // The management role, and the IAM OIDC provider of the hub's issuer, in an account of their
    // own: not the hub cluster's, not the caller's.
    let account = fresh_account();
    let (issuer, _) = hub_oidc().await;
    let provider = format!("arn:aws:iam::{account}:oidc-provider/{issuer}");
    iam_as(&account)
        .await
        .create_open_id_connect_provider()
        .url(format!("https://{issuer}"))
        .client_id_list("sts.amazonaws.com")
        .send()
        .await
        .unwrap();
    let mut trust = irsa_trust(&ns, true).await;
    trust["Statement"][0]["Principal"]["Federated"] = json!(provider);
    let role = create_role_in(&account, &unique("xirsa", &ns), &trust).await;
    register(&ns, &role, "irsa", &[]);

    let reach = format!("arn:aws:iam::{account}:role/argocd-deployer");
    let run = tool(&["doctor", "--argocd-namespace", &ns, "--assume-role", &reach]);
    assert_eq!(run.code, 0, "{run}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("is an IAM OIDC provider"))
        .unwrap();
    assert!(
        line.trim_start().starts_with("ok") && line.contains(&provider),
        "{line}"
    );
    // Without credentials for that account: "cannot tell", never a failure.
    let blind = doctor(&ns);
    assert_eq!(blind.code, 0, "{blind}");
    assert!(blind.stdout.contains("?? "), "{blind}");
    assert!(blind.stdout.contains(&account), "{blind}");
}
