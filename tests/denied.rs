//! Refusals as bad input: AWS AccessDenied on each call `add` makes (moto's IAM enforcement,
//! with a user allowed everything but that one action) and Kubernetes 403 for the restricted
//! user on each write. Every case checks the message, the exit code (4) and that nothing was
//! written (`common::assert_nothing_written`; the refused call itself is the only one allowed).

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use common::*;

const DENIED: i32 = 4;
/// A region no other test looks in, for this binary's own target cluster.
const REGION: &str = "ca-central-1";
/// The seeded IRSA role, a second management role to switch to.
const OTHER_MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-irsa";

/// One case at a time: IAM enforcement is the whole sandbox's.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn moto_post(path: &str, body: &str, content_type: &str) {
    let posted = std::process::Command::new("curl")
        .args([
            "-sf",
            "-XPOST",
            "-H",
            &format!("Content-Type: {content_type}"),
        ])
        .args(["--data-binary", body])
        .arg(format!("{}{path}", env("ARGOCD_EKS_SANDBOX_MOTO_URL")))
        .output()
        .unwrap();
    assert!(posted.status.success(), "{path}: {posted:?}");
}

/// moto checks every AWS request against IAM while this lives (the sandbox's `testing` key is
/// no IAM user, so set-up happens before).
struct Enforced;

impl Enforced {
    fn on() -> Self {
        moto_post("/moto-api/reset-auth", "0", "text/plain");
        Enforced
    }
}

impl Drop for Enforced {
    fn drop(&mut self) {
        moto_post("/moto-api/reset-auth", "inf", "text/plain");
    }
}

/// The keys of an IAM user that may do everything but `action`.
fn denied_user(action: &str) -> (String, String) {
    let name = format!(
        "badin-{}-{}",
        action.replace(':', "-").to_lowercase(),
        std::process::id()
    );
    block_on(async {
        let iam = aws_sdk_iam::Client::new(&sdk_config("us-east-1").await);
        iam.create_user().user_name(&name).send().await.unwrap();
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Effect":"Deny","Action":"{action}","Resource":"*"}}]}}"#
        );
        iam.put_user_policy()
            .user_name(&name)
            .policy_name("all-but-one")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        let key = iam
            .create_access_key()
            .user_name(&name)
            .send()
            .await
            .unwrap();
        let key = key.access_key().unwrap();
        (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        )
    })
}

/// This binary's target: an EKS cluster taking access entries, in a region of its own.
fn target() -> &'static str {
    static TARGET: OnceLock<String> = OnceLock::new();
    TARGET.get_or_init(|| {
        let name = format!("badin-target-{}", std::process::id());
        block_on(create_cluster(
            REGION,
            &name,
            aws_sdk_eks::types::AuthenticationMode::Api,
        ));
        name
    })
}

/// `add` of the target in `namespace` (pod identity, the hub's agent found by auto).
fn add_target<'a>(namespace: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "add",
        target(),
        "--region",
        REGION,
        "--argocd-namespace",
        namespace,
        "--management-role-arn",
        MANAGEMENT,
        "--yes",
    ];
    args.extend_from_slice(extra);
    args
}

/// The tool as a user denied `action`, with IAM enforced; then (a), (b) and (c), the refused
/// `action` the only write call allowed in moto's log.
fn denied_case(action: &str, args: &[&str], code: i32, says: &[&str]) {
    let key = denied_user(action);
    let marks = marks();
    let run = {
        let _enforced = Enforced::on();
        tool_with_env(
            args,
            &[
                ("AWS_ACCESS_KEY_ID", &key.0),
                ("AWS_SECRET_ACCESS_KEY", &key.1),
            ],
        )
    };
    assert_refusal(&run, code, says);
    let operation = action.split_once(':').unwrap().1;
    assert_nothing_written(&marks, &[operation]);
}

/// A fresh namespace where nothing is registered yet.
fn fresh(test: &str) -> String {
    argocd_namespace(test)
}

/// A namespace where the target is registered with pod identity (associations and Secret), its
/// access left alone.
fn registered(test: &str) -> String {
    let namespace = argocd_namespace(test);
    let run = tool(&add_target(&namespace, &["--skip-access"]));
    assert_eq!(run.code, 0, "{run}");
    namespace
}

// ---------------------------------------------------------------- AWS, the reads

#[test]
fn access_denied_on_describe_cluster() {
    let _serial = serial();
    let ns = fresh("deny-dc");
    denied_case(
        "eks:DescribeCluster",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused DescribeCluster",
            "not authorized to perform: eks:DescribeCluster",
            "Give the caller eks:DescribeCluster",
        ],
    );
}

#[test]
fn access_denied_on_describe_addon() {
    let _serial = serial();
    let ns = fresh("deny-da");
    denied_case(
        "eks:DescribeAddon",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused DescribeAddon",
            "Give the caller eks:DescribeAddon",
        ],
    );
}

#[test]
fn access_denied_on_list_pod_identity_associations() {
    let _serial = serial();
    let ns = fresh("deny-lpia");
    denied_case(
        "eks:ListPodIdentityAssociations",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused ListPodIdentityAssociations",
            "Give the caller eks:ListPodIdentityAssociations",
        ],
    );
}

#[test]
fn access_denied_on_describe_pod_identity_association() {
    let _serial = serial();
    let ns = registered("deny-dpia");
    denied_case(
        "eks:DescribePodIdentityAssociation",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused DescribePodIdentityAssociation",
            "Give the caller eks:DescribePodIdentityAssociation",
        ],
    );
}

#[test]
fn access_denied_on_describe_access_entry() {
    let _serial = serial();
    let ns = fresh("deny-dae");
    denied_case(
        "eks:DescribeAccessEntry",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused DescribeAccessEntry",
            "Give the caller eks:DescribeAccessEntry",
        ],
    );
}

/// A namespace where the target is registered and the management role has an access entry on
/// the target without an access policy.
fn registered_with_bare_entry(test: &str) -> String {
    let ns = registered(test);
    block_on(async {
        let eks = eks(REGION).await;
        let _ = eks
            .create_access_entry()
            .cluster_name(target())
            .principal_arn(MANAGEMENT)
            .send()
            .await;
        // Leave it bare: no access policy.
        let policies = eks
            .list_associated_access_policies()
            .cluster_name(target())
            .principal_arn(MANAGEMENT)
            .send()
            .await
            .unwrap();
        for policy in policies.associated_access_policies() {
            eks.disassociate_access_policy()
                .cluster_name(target())
                .principal_arn(MANAGEMENT)
                .policy_arn(policy.policy_arn().unwrap())
                .send()
                .await
                .unwrap();
        }
    });
    ns
}

#[test]
fn access_denied_on_list_associated_access_policies() {
    let _serial = serial();
    let ns = registered_with_bare_entry("deny-laap");
    denied_case(
        "eks:ListAssociatedAccessPolicies",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused ListAssociatedAccessPolicies",
            "Give the caller eks:ListAssociatedAccessPolicies",
        ],
    );
}

// ---------------------------------------------------------------- AWS, the writes (each the first)

#[test]
fn access_denied_on_create_pod_identity_association() {
    let _serial = serial();
    let ns = fresh("deny-cpia");
    denied_case(
        "eks:CreatePodIdentityAssociation",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused CreatePodIdentityAssociation",
            "Give the caller eks:CreatePodIdentityAssociation",
        ],
    );
}

#[test]
fn access_denied_on_update_pod_identity_association() {
    let _serial = serial();
    let ns = registered("deny-upia");
    let mut args = add_target(&ns, &["--skip-access", "--replace-identity", "--force"]);
    args[7] = OTHER_MANAGEMENT;
    denied_case(
        "eks:UpdatePodIdentityAssociation",
        &args,
        DENIED,
        &[
            "AWS refused UpdatePodIdentityAssociation",
            "Give the caller eks:UpdatePodIdentityAssociation",
        ],
    );
}

#[test]
fn access_denied_on_create_access_entry() {
    let _serial = serial();
    // Remove any entry an earlier case left, so the entry is this run's first write.
    block_on(async {
        let _ = eks(REGION)
            .await
            .delete_access_entry()
            .cluster_name(target())
            .principal_arn(MANAGEMENT)
            .send()
            .await;
    });
    let ns = registered("deny-cae");
    denied_case(
        "eks:CreateAccessEntry",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused CreateAccessEntry",
            "Give the caller eks:CreateAccessEntry",
        ],
    );
}

#[test]
fn access_denied_on_associate_access_policy() {
    let _serial = serial();
    let ns = registered_with_bare_entry("deny-aap");
    denied_case(
        "eks:AssociateAccessPolicy",
        &add_target(&ns, &[]),
        DENIED,
        &[
            "AWS refused AssociateAccessPolicy",
            "Give the caller eks:AssociateAccessPolicy",
        ],
    );
}

// ---------------------------------------------------------------- Kubernetes 403, each write

/// A namespace with Argo CD's service accounts where the restricted user has `rules` (kubectl
/// create role's `--verb`/`--resource` pairs) and nothing else.
fn restricted_namespace(test: &str, rules: &[(&str, &str)]) -> String {
    let ns = argocd_namespace(test);
    for (index, (verbs, resources)) in rules.iter().enumerate() {
        let role = format!("r{index}");
        kubectl(&[
            "-n",
            &ns,
            "create",
            "role",
            &role,
            &format!("--verb={verbs}"),
            &format!("--resource={resources}"),
        ]);
        kubectl(&[
            "-n",
            &ns,
            "create",
            "rolebinding",
            &role,
            &format!("--role={role}"),
            "--user=sandbox-restricted",
        ]);
    }
    ns
}

/// `add` as the restricted user in `ns`, IRSA (its context names no EKS cluster), access left
/// alone: only Kubernetes writes are planned.
fn restricted_add<'a>(ns: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "add",
        "staging",
        "--region",
        "us-east-1",
        "--context",
        "sandbox-restricted",
        "--argocd-namespace",
        ns,
        "--management-role-arn",
        MANAGEMENT,
        "--identity",
        "irsa",
        "--skip-access",
        "--force",
        "--yes",
    ];
    args.extend_from_slice(extra);
    args
}

fn forbidden_case(args: &[&str], says: &[&str]) {
    let marks = marks();
    let run = tool(args);
    assert_refusal(&run, DENIED, says);
    assert_nothing_written(&marks, &[]);
}

#[test]
fn forbidden_to_read_the_secrets() {
    let _serial = serial();
    let ns = restricted_namespace("forbid-read", &[("get,list", "serviceaccounts")]);
    forbidden_case(
        &restricted_add(&ns, &[]),
        &[
            "the hub refused to list Secrets",
            "cannot list resource \"secrets\"",
            "Ask a cluster admin for that RBAC permission",
        ],
    );
}

#[test]
fn forbidden_to_create_the_secret() {
    let _serial = serial();
    let ns = restricted_namespace(
        "forbid-create",
        &[
            ("get,list,patch", "secrets"),
            ("get,list,patch", "serviceaccounts"),
        ],
    );
    forbidden_case(
        &restricted_add(&ns, &[]),
        &[
            "create secrets",
            "Nothing was changed",
            "create role argocd-eks-registrar",
        ],
    );
}

#[test]
fn forbidden_to_apply_the_secret() {
    let _serial = serial();
    let ns = restricted_namespace(
        "forbid-patch",
        &[
            ("get,list,create", "secrets"),
            ("get,list,patch", "serviceaccounts"),
        ],
    );
    forbidden_case(
        &restricted_add(&ns, &[]),
        &["patch secrets", "Nothing was changed"],
    );
}

#[test]
fn forbidden_to_annotate_the_service_accounts() {
    let _serial = serial();
    let ns = restricted_namespace(
        "forbid-sa",
        &[
            ("get,list,create,patch", "secrets"),
            ("get,list", "serviceaccounts"),
        ],
    );
    forbidden_case(
        &restricted_add(&ns, &[]),
        &["patch serviceaccounts", "Nothing was changed"],
    );
}

#[test]
fn forbidden_to_restart_argocd() {
    let _serial = serial();
    let ns = restricted_namespace(
        "forbid-restart",
        &[
            ("get,list,create,patch", "secrets"),
            ("get,list,patch", "serviceaccounts"),
        ],
    );
    forbidden_case(
        &restricted_add(&ns, &["--restart"]),
        &[
            "patch statefulsets",
            "patch deployments",
            "Nothing was changed",
        ],
    );
}

// ---------------------------------------------------------------- the check itself

#[test]
fn the_nothing_written_check_sees_a_write() {
    let _serial = serial();
    let ns = fresh("sees-write");
    let marks = marks();
    let run = tool(&add_target(&ns, &["--skip-access"]));
    assert_eq!(run.code, 0, "{run}");
    let caught = std::panic::catch_unwind(|| assert_nothing_written(&marks, &[]));
    let message = caught
        .expect_err("a registration passed for nothing written")
        .downcast::<String>()
        .unwrap();
    assert!(
        message.contains("CreatePodIdentityAssociation"),
        "{message}"
    );
    assert!(
        message.contains("patch") && message.contains("secrets"),
        "{message}"
    );
}

// ---------------------------------------------------------------- AWS, the reads of the checks

/// The check before writing reads roles and OIDC providers; a refusal there is "cannot tell"
/// (`??`), never a stop. Shown on a dry run, which writes nothing and exits 0.
fn cannot_tell_case(action: &str, args: &[&str], says: &[&str]) {
    let key = denied_user(action);
    let marks = marks();
    let run = {
        let _enforced = Enforced::on();
        tool_with_env(
            args,
            &[
                ("AWS_ACCESS_KEY_ID", &key.0),
                ("AWS_SECRET_ACCESS_KEY", &key.1),
            ],
        )
    };
    assert_eq!(run.code, 0, "{run}");
    for fragment in says {
        assert!(run.stdout.contains(fragment), "lacks {fragment:?}\n{run}");
    }
    for mark in DEBUG_MARKS {
        assert!(
            !run.stdout.contains(mark) && !run.stderr.contains(mark),
            "{mark}\n{run}"
        );
    }
    assert_nothing_written(&marks, &[]);
}

#[test]
fn access_denied_on_get_role_is_cannot_tell() {
    let _serial = serial();
    let ns = fresh("deny-gr");
    cannot_tell_case(
        "iam:GetRole",
        &add_target(&ns, &["--dry-run"]),
        &["cannot tell", "iam:GetRole"],
    );
}

#[test]
fn access_denied_on_list_oidc_providers_is_cannot_tell() {
    let _serial = serial();
    let ns = fresh("deny-loidc");
    cannot_tell_case(
        "iam:ListOpenIDConnectProviders",
        &add_target(&ns, &["--dry-run", "--identity", "irsa"]),
        &["cannot tell", "iam:ListOpenIDConnectProviders"],
    );
}

#[test]
fn access_denied_on_assume_role() {
    let _serial = serial();
    let ns = fresh("deny-ar");
    denied_case(
        "sts:AssumeRole",
        &[
            "add",
            "arn:aws:eks:us-east-1:210987654321:cluster/team-b-dev",
            "--assume-role",
            TARGET_ROLE,
            "--argocd-namespace",
            &ns,
            "--management-role-arn",
            MANAGEMENT,
            "--yes",
        ],
        DENIED,
        &[
            "STS refused AssumeRole: AccessDenied",
            "may sts:AssumeRole that role",
        ],
    );
}
