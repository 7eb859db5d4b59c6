//! Helpers the end-to-end test binaries share: the sandbox's environment, kubectl, the tool.

// Each test binary uses only some of these helpers, and none is exported from a test crate.
#![allow(dead_code, unreachable_pub)]

pub mod faults;
pub mod toxiproxy;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

pub const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";
pub const TARGET_ROLE: &str = "arn:aws:iam::210987654321:role/argocd-deployer";
pub const SERVICE_ACCOUNTS: [&str; 3] = [
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
];

/// How to bring up what these tests talk to.
const START_THE_SANDBOX: &str = "the end-to-end tests talk to the sandbox of real servers, and it is not up: run scripts/test (it starts the sandbox and runs everything), or scripts/sandbox up && eval \"$(scripts/sandbox env)\" and then cargo test";

/// Stop here when the sandbox is not up: under scripts/test or CI (ARGOCD_EKS_REQUIRE_SANDBOX,
/// CI) that is a failure; for a plain `cargo test` this test binary says how to start the
/// sandbox and ends without running its tests, so the unit tests stay runnable alone.
pub fn require_sandbox() {
    if std::env::var_os("ARGOCD_EKS_SANDBOX_MOTO_URL").is_some() {
        return;
    }
    let required = ["ARGOCD_EKS_REQUIRE_SANDBOX", "CI"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"));
    if required {
        panic!("{START_THE_SANDBOX}");
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    // Straight to the process's stderr: the test harness captures `eprintln!`.
    SAID.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "\nskipped: {START_THE_SANDBOX}\n");
    });
    std::process::exit(0);
}

pub fn env(name: &str) -> String {
    require_sandbox();
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests with scripts/test (it starts the sandbox)")
    })
}

/// A fresh namespace with Argo CD's three service accounts, unique to one test.
pub fn argocd_namespace(test: &str) -> String {
    argocd_namespace_with(test, &SERVICE_ACCOUNTS)
}

/// A fresh namespace with only `service_accounts` of Argo CD's, unique to one test.
pub fn argocd_namespace_with(test: &str, service_accounts: &[&str]) -> String {
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
    for sa in service_accounts {
        kubectl(&["-n", &namespace, "create", "serviceaccount", sa]);
    }
    namespace
}

pub fn kubectl_output(args: &[&str]) -> Output {
    require_sandbox();
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

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn tool(args: &[&str]) -> Run {
    tool_with_env(args, &[])
}

/// The tool with these environment variables set on top of the sandbox's.
pub fn tool_with_env(args: &[&str], vars: &[(&str, &str)]) -> Run {
    tool_env(args, vars, &[])
}

/// The tool with `vars` set on top of the sandbox's environment and `unset` removed from it.
pub fn tool_env(args: &[&str], vars: &[(&str, &str)], unset: &[&str]) -> Run {
    require_sandbox();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-argocd_eks"));
    for name in unset {
        command.env_remove(name);
    }
    let output = command
        .args(args)
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `add` in `namespace` with the sandbox's `argocd-management`, with `--force`: these tests
/// are about what add writes and removes, with roles that trust nothing (names made up for the
/// test) or, under IRSA, argocd-management (which trusts only pods.eks.amazonaws.com); add's
/// check before writing would refuse them, and tests/add_checks.rs tests that refusal.
pub fn add(namespace: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "add",
        "--argocd-namespace",
        namespace,
        "--management-role-arn",
        MANAGEMENT,
        "--force",
    ];
    args.extend_from_slice(extra);
    tool(&args)
}

/// `add --yes` in `namespace`, which must succeed.
pub fn add_yes(namespace: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--yes"];
    args.extend_from_slice(extra);
    let run = add(namespace, &args);
    assert_eq!(run.code, 0, "add {extra:?}: {run}");
    run
}

/// The kinds of the steps an `-o json` report plans, in order, once its outcome is `outcome`.
pub fn planned_kinds(run: &Run, outcome: &str) -> Vec<String> {
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["outcome"], outcome);
    report["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["step"]["kind"].as_str().unwrap().to_owned())
        .collect()
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

/// Asserts that each of Argo CD's service accounts has IRSA annotation `expected`.
pub fn assert_irsa_annotations(namespace: &str, expected: Option<&str>) {
    for sa in SERVICE_ACCOUNTS {
        assert_eq!(irsa_annotation(namespace, sa).as_deref(), expected, "{sa}");
    }
}

/// Annotates argocd-server as someone else would: IRSA role `role`, and an annotation of theirs.
pub fn annotate_server_as_someone_else(namespace: &str, role: &str) {
    kubectl(&[
        "-n",
        namespace,
        "annotate",
        "serviceaccount",
        "argocd-server",
        &format!("eks.amazonaws.com/role-arn={role}"),
        "example.com/owner=platform",
    ]);
}

/// Asserts that argocd-server has IRSA role `role` and still has the other annotation.
pub fn assert_server_annotations(namespace: &str, role: &str) {
    let server = kubectl_json(&["-n", namespace, "get", "serviceaccount", "argocd-server"]);
    assert_eq!(
        server["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        role
    );
    assert_eq!(
        server["metadata"]["annotations"]["example.com/owner"],
        "platform"
    );
}

/// Patches cluster Secret `secret` (as listed by `cluster_secrets`): `edit` gets its data
/// decoded, `config` as JSON, and what it leaves is written back.
pub fn patch_secret(secret: &Value, edit: impl Fn(&mut Value)) {
    let mut data = json!({
        "config": serde_json::from_str::<Value>(&decode(&secret["data"]["config"])).unwrap(),
        "name": decode(&secret["data"]["name"]),
        "server": decode(&secret["data"]["server"]),
    });
    edit(&mut data);
    let string_data = json!({
        "config": data["config"].to_string(),
        "name": data["name"],
        "server": data["server"],
    });
    kubectl(&[
        "-n",
        secret["metadata"]["namespace"].as_str().unwrap(),
        "patch",
        "secret",
        secret["metadata"]["name"].as_str().unwrap(),
        "--type",
        "merge",
        "-p",
        &json!({ "stringData": string_data }).to_string(),
    ]);
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

/// The sandbox's AWS configuration in `region`, with the credentials the environment gives.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    require_sandbox();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(region.to_owned()))
        .load()
        .await
}

/// The same configuration acting as `role` through sts:AssumeRole, as `--assume-role` does;
/// `session` names the session, else the SDK picks a name.
pub async fn assumed_config(
    role: &str,
    region: &str,
    session: Option<&str>,
) -> aws_config::SdkConfig {
    let base = sdk_config(region).await;
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role);
    if let Some(session) = session {
        provider = provider.session_name(session);
    }
    let provider = provider.configure(&base).build().await;
    base.to_builder()
        .credentials_provider(aws_sdk_eks::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build()
}

pub async fn eks(region: &str) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&sdk_config(region).await)
}

/// An EKS client acting in `account` through sts:AssumeRole, as `--assume-role` does.
pub async fn eks_in(account: &str, region: &str) -> aws_sdk_eks::Client {
    let role = format!("arn:aws:iam::{account}:role/argocd-deployer");
    aws_sdk_eks::Client::new(&assumed_config(&role, region, None).await)
}

/// The sandbox hub, argocd-hub in us-east-1, as DescribeCluster has it.
pub async fn hub_cluster() -> aws_sdk_eks::types::Cluster {
    eks("us-east-1")
        .await
        .describe_cluster()
        .name("argocd-hub")
        .send()
        .await
        .unwrap()
        .cluster()
        .expect("DescribeCluster returns the cluster")
        .clone()
}

/// The sandbox hub's OIDC issuer URL.
pub async fn hub_issuer() -> String {
    hub_cluster()
        .await
        .identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .expect("the sandbox hub has an OIDC issuer")
        .to_owned()
}

/// Pod identity associations in `namespace` on the sandbox hub, as (service account, id).
pub async fn association_ids(namespace: &str) -> Vec<(String, String)> {
    let list = eks("us-east-1")
        .await
        .list_pod_identity_associations()
        .cluster_name("argocd-hub")
        .namespace(namespace)
        .send()
        .await
        .unwrap();
    let mut found: Vec<(String, String)> = list
        .associations()
        .iter()
        .map(|a| {
            (
                a.service_account().unwrap().to_owned(),
                a.association_id().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Creates EKS cluster `name` in `region` of the sandbox's hub account with authentication
/// mode `mode` (API or API_AND_CONFIG_MAP: it takes access entries).
pub async fn create_cluster(
    region: &str,
    name: &str,
    mode: aws_sdk_eks::types::AuthenticationMode,
) {
    eks(region)
        .await
        .create_cluster()
        .name(name)
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster-role")
        .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().build())
        .access_config(
            aws_sdk_eks::types::CreateAccessConfigRequest::builder()
                .authentication_mode(mode)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// ListAccessEntries on a sandbox cluster.
pub async fn access_entries(region: &str, cluster: &str) -> Vec<String> {
    eks(region)
        .await
        .list_access_entries()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap()
        .access_entries()
        .to_vec()
}

/// Pod identity associations in `namespace` on the sandbox hub, described.
pub async fn described_associations(
    namespace: &str,
) -> Vec<aws_sdk_eks::types::PodIdentityAssociation> {
    let client = eks("us-east-1").await;
    let mut found = Vec::new();
    for (_, id) in association_ids(namespace).await {
        let described = client
            .describe_pod_identity_association()
            .cluster_name("argocd-hub")
            .association_id(id)
            .send()
            .await
            .unwrap();
        found.push(described.association().unwrap().clone());
    }
    found
}

/// Pod identity associations in `namespace` on the sandbox hub, as (service account, role).
pub async fn associations(namespace: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = described_associations(namespace)
        .await
        .iter()
        .map(|association| {
            (
                association.service_account().unwrap().to_owned(),
                association.role_arn().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Asserts that `cluster` has an access entry for `principal` (seen through `client`).
pub async fn assert_access_entry(client: &aws_sdk_eks::Client, cluster: &str, principal: &str) {
    let entry = client
        .describe_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .send()
        .await
        .unwrap();
    assert_eq!(
        entry.access_entry().unwrap().principal_arn(),
        Some(principal)
    );
}

/// Every request moto has logged, oldest first.
pub fn moto_log() -> Vec<Value> {
    let output = Command::new("curl")
        .args([
            "-sf",
            &format!("{}/_sandbox/requests", env("ARGOCD_EKS_SANDBOX_MOTO_URL")),
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn moto_log_len() -> usize {
    moto_log().len()
}

/// The write requests (all but GETs) moto has logged since entry `start`.
pub fn moto_write_requests_since(start: usize) -> Vec<Value> {
    moto_log()
        .into_iter()
        .skip(start)
        .filter(|r| r["method"] != "GET")
        .collect()
}

/// The write calls moto has seen since entry `start`, as "method action".
pub fn moto_writes_since(start: usize) -> Vec<String> {
    moto_write_requests_since(start)
        .iter()
        // STS AssumeRole is how --assume-role authenticates; it changes nothing.
        .filter(|r| r["action"] != "AssumeRole")
        .map(|r| format!("{} {}", r["method"], r["action"]))
        .collect()
}

/// Kubernetes writes (create/update/patch/delete) in `namespace` logged by the API server's
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

/// The audit events logged after byte `start` for requests the tool's user made (the
/// sandbox kubeconfig's admin; the apiserver's own `system:` requests left out).
pub fn audit_events_since(start: u64) -> Vec<Value> {
    let path = format!("{}/audit.log", env("ARGOCD_EKS_SANDBOX_DIR"));
    let text = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&text[start as usize..])
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| {
            !event["user"]["username"]
                .as_str()
                .unwrap_or_default()
                .starts_with("system:")
        })
        .collect()
}

pub fn audit_log_len() -> u64 {
    std::fs::metadata(format!("{}/audit.log", env("ARGOCD_EKS_SANDBOX_DIR")))
        .unwrap()
        .len()
}

/// Where the servers' logs stood when a case began: what they hold after it is the case's.
pub struct Marks {
    moto: usize,
    audit: u64,
}

/// Marks both logs now (the audit log once the apiserver has stopped writing to it).
pub fn marks() -> Marks {
    Marks {
        moto: moto_log_len(),
        audit: settled_audit_log_len(),
    }
}

/// The audit log's length once it has not grown for 100 ms (at most 3 s): the apiserver
/// writes an event just after it answers.
pub fn settled_audit_log_len() -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut size = audit_log_len();
    let mut stable_since = std::time::Instant::now();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = audit_log_len();
        if now != size {
            size = now;
            stable_since = std::time::Instant::now();
        } else if stable_since.elapsed() >= std::time::Duration::from_millis(100) {
            break;
        }
    }
    size
}

/// AWS actions that change nothing: reads, and the STS calls that only hand out credentials.
fn changes_nothing(action: &str) -> bool {
    ["Get", "List", "Describe"]
        .iter()
        .any(|verb| action.starts_with(verb))
        || matches!(
            action,
            "AssumeRole" | "AssumeRoleWithWebIdentity" | "AssumeRoleForPodIdentity"
        )
}

/// Kubernetes resources whose create writes nothing (access and token reviews).
const REVIEWS: [&str; 6] = [
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "selfsubjectreviews",
    "localsubjectaccessreviews",
    "subjectaccessreviews",
    "tokenreviews",
];

/// Nothing was written since `marks`: moto's request log has no call that changes anything
/// (whatever its answer, except the calls named in `refused` when AWS refused them: the
/// refusal a case is about), and the apiserver's audit log has no create, update, patch or
/// delete (access reviews aside) by anyone but the apiserver itself and Argo CD's own
/// processes, not even one that was refused. Panics with what was written.
pub fn assert_nothing_written(marks: &Marks, refused: &[&str]) {
    let aws: Vec<String> = moto_log()
        .into_iter()
        .skip(marks.moto)
        .filter(|r| {
            r["path"]
                .as_str()
                .is_none_or(|p| !p.starts_with("/moto-api"))
        })
        .filter(|r| {
            let action = r["action"].as_str().unwrap_or("");
            let named_refusal =
                refused.contains(&action) && r["status"].as_u64().is_some_and(|s| s >= 400);
            if action.is_empty() {
                r["method"] != "GET"
            } else {
                !changes_nothing(action) && !named_refusal
            }
        })
        .map(|r| format!("{} {} -> {}", r["method"], r["action"], r["status"]))
        .collect();
    let path = format!("{}/audit.log", env("ARGOCD_EKS_SANDBOX_DIR"));
    let text = std::fs::read(&path).unwrap();
    let end = settled_audit_log_len() as usize;
    let kube: Vec<String> =
        String::from_utf8_lossy(&text[marks.audit as usize..end.min(text.len())])
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| {
                event["stage"] == "ResponseComplete"
                    && matches!(
                        event["verb"].as_str(),
                        Some("create" | "update" | "patch" | "delete" | "deletecollection")
                    )
                    && !event["user"]["username"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("system:")
                    && !event["userAgent"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("argocd-")
                    && !REVIEWS.contains(&event["objectRef"]["resource"].as_str().unwrap_or(""))
            })
            .map(|event| {
                format!(
                    "{} {} -> {}",
                    event["verb"], event["requestURI"], event["responseStatus"]["code"]
                )
            })
            .collect();
    assert!(
        aws.is_empty() && kube.is_empty(),
        "something was written: AWS {aws:?}, Kubernetes {kube:?}"
    );
}

/// Runs `future` to its end on a runtime of its own (for set-up in plain #[test]s).
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// What Rust's Debug formatting leaves in a message, and kube's quoting of a path.
pub const DEBUG_MARKS: [&str; 9] = [
    "Error {",
    "Some(",
    "kind:",
    "Status {",
    "ErrorResponse",
    "DispatchFailure",
    "ConnectorError",
    "source:",
    "'\"",
];

/// A bad-input case's (a) and (b): the exit code, every fragment of `says` in what the user
/// saw (the problem and the fix), an `error:` line, and no Rust Debug output.
pub fn assert_refusal(run: &Run, code: i32, says: &[&str]) {
    assert_eq!(run.code, code, "exit code\n{run}");
    let seen = format!("{}{}", run.stdout, run.stderr);
    for fragment in says {
        assert!(
            seen.contains(fragment),
            "the output lacks {fragment:?}\n{run}"
        );
    }
    for mark in DEBUG_MARKS {
        assert!(!seen.contains(mark), "Debug output ({mark:?})\n{run}");
    }
    assert!(
        run.stderr.contains("error: "),
        "no error line on stderr\n{run}"
    );
    // For the table: each case's test, exit code and error line(s), when asked.
    if let Ok(path) = std::env::var("ARGOCD_EKS_CASE_LOG") {
        use std::io::Write as _;
        let error: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        let line = json!({
            "case": std::thread::current().name().unwrap_or("?"),
            "code": run.code,
            "error": error.join(" / "),
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
}
