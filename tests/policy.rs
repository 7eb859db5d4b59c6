//! End-to-end tests of `policy`: the built binary against the sandbox's kube-apiserver and moto.
//!
//! Run through `scripts/test`, which starts the sandbox and exports its environment
//! (`eval "$(scripts/sandbox env)"`). `--create` tests work in a fresh AWS account each: moto
//! gives credentials from sts:AssumeRole of any role ARN in that account (the tool gets them
//! with `--assume-role`), and its request log says which account each call went to.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use kubectl_argocd_eks::core::policy::document::parse_policy;
use serde_json::{Value, json};

const HUB: &str = "123456789012";
const HUB_CLUSTER: &str = "arn:aws:eks:us-east-1:123456789012:cluster/argocd-hub";

fn unique() -> u64 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos / 1000 * 100 + u64::from(COUNTER.fetch_add(1, Ordering::SeqCst) % 100)
}

/// A 12-digit account id no other test (nor the seed) uses.
fn fresh_account() -> String {
    format!("7{:011}", unique() % 100_000_000_000)
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

fn json_of(run: Run) -> Value {
    serde_json::from_str(&ok(run).stdout).unwrap()
}

/// IAM in `account`, with credentials from assuming a role there (as the tool gets them).
async fn iam_in(account: &str) -> aws_sdk_iam::Client {
    let role = format!("arn:aws:iam::{account}:role/tests");
    aws_sdk_iam::Client::new(&assumed_config(&role, "us-east-1", Some("policy-tests")).await)
}

async fn trust_policy(iam: &aws_sdk_iam::Client, name: &str) -> Value {
    let role = iam.get_role().role_name(name).send().await.unwrap();
    let text = role.role().unwrap().assume_role_policy_document().unwrap();
    serde_json::to_value(parse_policy(text).unwrap()).unwrap()
}

async fn inline_policy(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let policy = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("kubectl-argocd-eks")
        .send()
        .await
        .unwrap();
    serde_json::to_value(parse_policy(policy.policy_document()).unwrap()).unwrap()
}

/// The IAM writes moto has seen in `account` so far (its request log).
fn iam_writes(account: &str) -> Vec<String> {
    moto_log()
        .iter()
        .filter(|r| r["service"] == "iam" && r["account"] == account)
        .filter_map(|r| r["action"].as_str())
        .filter(|action| !action.starts_with("Get") && !action.starts_with("List"))
        .map(str::to_owned)
        .collect()
}

fn role_named<'a>(report: &'a Value, arn: &str) -> &'a Value {
    report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["arn"] == arn)
        .unwrap_or_else(|| panic!("no role {arn} in {report:#}"))
}

fn subjects(namespace: &str, names: &[&str]) -> Vec<String> {
    let mut subjects: Vec<String> = names
        .iter()
        .map(|sa| format!("system:serviceaccount:{namespace}:{sa}"))
        .collect();
    subjects.sort();
    subjects
}

#[tokio::test]
async fn irsa_trust_uses_the_hubs_real_issuer_and_exact_service_accounts() {
    let issuer = hub_issuer().await;
    let host_path = issuer.trim_start_matches("https://").trim_end_matches('/');
    let provider = format!("arn:aws:iam::{HUB}:oidc-provider/{host_path}");
    assert!(host_path.starts_with("oidc.eks.us-east-1.amazonaws.com/id/"));

    let report = json_of(tool(&["policy", "--identity", "irsa", "-o", "json"]));
    assert_eq!(report["identity"], "irsa");
    assert_eq!(report["hubCluster"], HUB_CLUSTER);
    assert_eq!(report["oidcProvider"]["arn"], provider);
    assert_eq!(report["oidcProvider"]["url"], issuer);
    let management = role_named(
        &report,
        &format!("arn:aws:iam::{HUB}:role/argocd-management"),
    );
    assert_eq!(
        management["trustPolicy"],
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    format!("{host_path}:aud"): "sts.amazonaws.com",
                    format!("{host_path}:sub"): subjects("argocd", &SERVICE_ACCOUNTS),
                }}
            }]
        })
    );
    // Direct mode: no permission policy, and no other role.
    assert_eq!(management["permissionPolicies"], json!([]));
    assert_eq!(report["roles"].as_array().unwrap().len(), 1);

    let text = ok(tool(&["policy", "--identity", "irsa"])).stdout;
    for needle in [
        issuer.as_str(),
        &format!("\"{host_path}:aud\": \"sts.amazonaws.com\""),
        "system:serviceaccount:argocd:argocd-applicationset-controller",
        &format!(
            "aws iam create-open-id-connect-provider --url {issuer} --client-id-list sts.amazonaws.com"
        ),
        // The sandbox's argocd-management exists: its update keeps what it has, as --create would.
        "# role argocd-management exists: as --create would, these keep every statement it has",
        "aws iam update-assume-role-policy --role-name argocd-management --policy-document '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"pods.eks.amazonaws.com\"}",
        "Direct mode (no --role-arn): it needs no permission policy",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }

    // Only the service accounts that exist: no ApplicationSet controller here.
    let namespace = argocd_namespace_with("policy", &SERVICE_ACCOUNTS[..2]);
    let report = json_of(tool(&[
        "policy",
        "--identity",
        "irsa",
        "--argocd-namespace",
        &namespace,
        "-o",
        "json",
    ]));
    let trust = &report["roles"][0]["trustPolicy"]["Statement"][0]["Condition"]["StringEquals"];
    assert_eq!(
        trust[format!("{host_path}:sub")],
        json!(subjects(&namespace, &SERVICE_ACCOUNTS[..2]))
    );
    kubectl(&["delete", "namespace", &namespace, "--wait=false"]);
}

#[tokio::test]
async fn pod_identity_is_the_default_on_the_hub_and_chains_with_tag_session() {
    let management = format!("arn:aws:iam::{HUB}:role/argocd-management");
    let report = json_of(tool(&["policy", "--role-arn", TARGET_ROLE, "-o", "json"]));
    assert_eq!(
        report["identity"], "pod-identity",
        "the hub has the agent add-on"
    );
    let role = role_named(&report, &management);
    let statement = &role["trustPolicy"]["Statement"][0];
    assert_eq!(
        statement["Principal"],
        json!({"Service": "pods.eks.amazonaws.com"})
    );
    assert_eq!(
        statement["Action"],
        json!(["sts:AssumeRole", "sts:TagSession"])
    );
    assert_eq!(
        statement["Condition"]["StringEquals"],
        json!({
            "aws:RequestTag/eks-cluster-arn": HUB_CLUSTER,
            "aws:RequestTag/kubernetes-namespace": "argocd",
            "aws:RequestTag/kubernetes-service-account": [
                "argocd-application-controller",
                "argocd-applicationset-controller",
                "argocd-server"
            ]
        })
    );
    assert_eq!(
        role["permissionPolicies"],
        json!([{"name": "kubectl-argocd-eks", "document": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Resource": TARGET_ROLE
            }]
        }}])
    );
    let target = role_named(&report, TARGET_ROLE);
    assert_eq!(target["kind"], "target");
    assert_eq!(
        target["trustPolicy"],
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": management},
                "Action": ["sts:AssumeRole", "sts:TagSession"]
            }]
        })
    );
    assert_eq!(target["permissionPolicies"], json!([]));

    // roleARN = the management role: it trusts itself (Argo CD issue #17064).
    let report = json_of(tool(&["policy", "--role-arn", &management, "-o", "yaml"]).map_yaml());
    let role = role_named(&report, &management);
    assert_eq!(role["selfAssume"], true);
    assert!(
        role["trustPolicy"]["Statement"]
            .as_array()
            .unwrap()
            .contains(&json!({
                "Sid": "ArgoCdSelfAssume",
                "Effect": "Allow",
                "Principal": {"AWS": management},
                "Action": ["sts:AssumeRole", "sts:TagSession"]
            })),
        "{role:#}"
    );
    assert_eq!(report["roles"].as_array().unwrap().len(), 1);
}

trait MapYaml {
    fn map_yaml(self) -> Run;
}

impl MapYaml for Run {
    /// Turns YAML output into JSON, so that `-o yaml` is checked to hold the same document.
    fn map_yaml(mut self) -> Run {
        if self.code == 0 {
            let value: Value = serde_saphyr::from_str(&self.stdout)
                .unwrap_or_else(|e| panic!("not YAML ({e}):\n{}", self.stdout));
            self.stdout = value.to_string();
        }
        self
    }
}

#[tokio::test]
async fn create_on_a_fresh_account_makes_exactly_the_printed_documents_then_writes_nothing() {
    let account = fresh_account();
    let management = format!("arn:aws:iam::{account}:role/argocd-management");
    let deployer = format!("arn:aws:iam::{account}:role/argocd-deployer");
    let assume = format!("arn:aws:iam::{account}:role/admin");
    let base = [
        "policy",
        "--identity",
        "irsa",
        "--management-role-arn",
        &management,
        "--role-arn",
        &deployer,
        "--role-arn",
        TARGET_ROLE,
        "--assume-role",
        &assume,
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        tool(&args)
    };

    let printed = json_of(with(&["-o", "json"]));
    let dry = ok(with(&["--create", "--dry-run"]));
    assert!(dry.stdout.contains("+ create"), "{}", dry.stdout);
    assert!(dry.stdout.contains("Dry run"), "{}", dry.stdout);
    let refused = with(&["--create"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(iam_writes(&account), Vec::<String>::new(), "dry runs wrote");

    let run = ok(with(&["--create", "--yes"]));
    assert!(
        run.stdout.contains("Applied and read back"),
        "{}",
        run.stdout
    );
    // The target role in an account these credentials cannot reach: what to run there.
    assert!(
        run.stdout
            .contains(&format!("! by hand   role {TARGET_ROLE} trust policy")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("# account 210987654321\naws iam create-role --role-name argocd-deployer"),
        "{}",
        run.stdout
    );
    let mut writes = iam_writes(&account);
    writes.sort();
    assert_eq!(
        writes,
        [
            "CreateOpenIDConnectProvider",
            "CreateRole",
            "CreateRole",
            "PutRolePolicy"
        ]
    );

    let iam = iam_in(&account).await;
    let providers = iam.list_open_id_connect_providers().send().await.unwrap();
    let arns: Vec<&str> = providers
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    assert_eq!(arns, [printed["oidcProvider"]["arn"].as_str().unwrap()]);
    let wanted = role_named(&printed, &management);
    assert_eq!(
        trust_policy(&iam, "argocd-management").await,
        wanted["trustPolicy"]
    );
    assert_eq!(
        inline_policy(&iam, "argocd-management").await,
        wanted["permissionPolicies"][0]["document"]
    );
    assert_eq!(
        trust_policy(&iam, "argocd-deployer").await,
        role_named(&printed, &deployer)["trustPolicy"]
    );
    let policies = iam
        .list_role_policies()
        .role_name("argocd-deployer")
        .send()
        .await
        .unwrap();
    assert!(
        policies.policy_names().is_empty(),
        "a target role needs no policy"
    );

    let before = iam_writes(&account).len();
    let again = json_of(with(&["--create", "-o", "json"]));
    assert_eq!(again["outcome"], "unchanged", "{again:#}");
    let changes: Vec<&str> = again["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        ["unchanged", "unchanged", "unchanged", "manual", "unchanged"]
    );
    let text = ok(with(&["--create"]));
    assert!(text.stdout.contains("Nothing to change"), "{}", text.stdout);
    assert!(!text.stdout.contains("+ create") && !text.stdout.contains("~ update"));
    assert_eq!(iam_writes(&account).len(), before, "a second run wrote");
}

#[tokio::test]
async fn create_updates_an_existing_role_by_adding_what_is_missing() {
    let account = fresh_account();
    let management = format!("arn:aws:iam::{account}:role/argocd-management");
    let old_target = format!("arn:aws:iam::{account}:role/old-target");
    let iam = iam_in(&account).await;
    let someone_elses = json!({
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"
    });
    iam.create_role()
        .role_name("argocd-management")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [someone_elses]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("argocd-management")
        .policy_name("kubectl-argocd-eks")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": old_target
            }]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let before = iam_writes(&account).len();

    let args = [
        "policy",
        "--create",
        "--yes",
        "--identity",
        "pod-identity",
        "--management-role-arn",
        &management,
        "--role-arn",
        &management,
        "--assume-role",
        &format!("arn:aws:iam::{account}:role/admin"),
    ];
    let run = ok(tool(&args));
    assert!(
        run.stdout.contains(&format!(
            "~ update    role {management} trust policy  (add 2 statement(s), keep the 1 there)"
        )),
        "{}",
        run.stdout
    );
    let mut writes = iam_writes(&account)[before..].to_vec();
    writes.sort();
    assert_eq!(writes, ["PutRolePolicy", "UpdateAssumeRolePolicy"]);

    let trust = trust_policy(&iam, "argocd-management").await;
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 3, "{trust:#}");
    assert_eq!(statements[0], someone_elses, "kept as it was");
    assert_eq!(
        statements[1]["Principal"],
        json!({"Service": "pods.eks.amazonaws.com"})
    );
    assert_eq!(statements[2]["Sid"], "ArgoCdSelfAssume");
    // Roles it could assume before stay assumable: clusters registered earlier use them.
    let mut resources = vec![management.clone(), old_target];
    resources.sort();
    assert_eq!(
        inline_policy(&iam, "argocd-management").await["Statement"],
        json!([{
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Resource": resources
        }])
    );

    let before = iam_writes(&account).len();
    let again = ok(tool(&args));
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert_eq!(iam_writes(&account).len(), before, "a second run wrote");
}

#[tokio::test]
async fn printed_commands_for_an_existing_role_keep_its_statements_and_match_create() {
    let account = fresh_account();
    let management = format!("arn:aws:iam::{account}:role/argocd-management");
    let old_target = format!("arn:aws:iam::{account}:role/old-target");
    let iam = iam_in(&account).await;
    let someone_elses = json!({
        "Sid": "Theirs",
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"
    });
    iam.create_role()
        .role_name("argocd-management")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [someone_elses]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let s3 = json!({"Sid": "S3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
    iam.put_role_policy()
        .role_name("argocd-management")
        .policy_name("kubectl-argocd-eks")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [s3,
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": old_target}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let assume = format!("arn:aws:iam::{account}:role/admin");
    let args = [
        "policy",
        "--identity",
        "pod-identity",
        "--management-role-arn",
        &management,
        "--role-arn",
        TARGET_ROLE,
        "--assume-role",
        &assume,
    ];
    let printed = ok(tool(&args)).stdout;
    // The printed commands for the role that exists give whole documents, every statement kept.
    let commands: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("aws iam ") && l.contains("--role-name argocd-management "))
        .collect();
    assert_eq!(commands.len(), 2, "{printed}");
    assert!(
        commands.iter().all(|c| c.contains("--policy-document '")),
        "{printed}"
    );
    assert!(!printed.contains("this replaces its trust policy; --create adds to it): aws iam update-assume-role-policy --role-name argocd-management "), "{printed}");
    let before = iam_writes(&account).len();
    let credentials = assumed_config(&assume, "us-east-1", Some("policy-tests")).await;
    let credentials = aws_credential_types::provider::ProvideCredentials::provide_credentials(
        credentials.credentials_provider().unwrap().as_ref(),
    )
    .await
    .unwrap();
    for command in &commands {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("AWS_ACCESS_KEY_ID", credentials.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key())
            .env(
                "AWS_SESSION_TOKEN",
                credentials.session_token().unwrap_or_default(),
            )
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(iam_writes(&account).len(), before + 2);
    let trust = trust_policy(&iam, "argocd-management").await;
    assert_eq!(trust["Statement"][0], someone_elses, "{trust:#}");
    assert_eq!(
        inline_policy(&iam, "argocd-management").await["Statement"][0],
        s3
    );
    // They are what --create writes: after them, --create has nothing to change.
    let mut create = args.to_vec();
    create.push("--create");
    let again = ok(tool(&create));
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
}
