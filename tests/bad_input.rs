//! Bad input against the real sandbox: for every case the message names the problem and the
//! fix and holds no Rust Debug output, the exit code is the README's, and nothing was written
//! (moto's request log and the apiserver's audit log, through `common::assert_nothing_written`).

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use common::*;

/// One case at a time: IAM enforcement and the logs' windows are the whole sandbox's.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One case: run the tool with `args` (and `vars`, without `unset`), then (a), (b) and (c).
/// The caller holds [`serial`] for the whole test, its set-up included.
fn case_env(args: &[&str], vars: &[(&str, &str)], unset: &[&str], code: i32, says: &[&str]) {
    let marks = marks();
    let run = tool_env(args, vars, unset);
    assert_refusal(&run, code, says);
    assert_nothing_written(&marks, &[]);
}

fn case(args: &[&str], code: i32, says: &[&str]) {
    case_env(args, &[], &[], code, says);
}

/// A namespace with Argo CD's service accounts, for the cases that never get to write in it.
fn shared_namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| argocd_namespace("badin"))
}

/// `add staging` in the shared namespace with `extra`, as a user would type it.
fn add_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "add",
        "staging",
        "--region",
        "us-east-1",
        "--argocd-namespace",
        shared_namespace(),
        "--management-role-arn",
        MANAGEMENT,
        "--yes",
    ];
    args.extend_from_slice(extra);
    args
}

const USAGE: i32 = 2;
const FAILURE: i32 = 1;
const DENIED: i32 = 4;
const NOT_FOUND: i32 = 6;
const REFUSED: i32 = 7;

// ---------------------------------------------------------------- ARNs

#[test]
fn malformed_cluster_arn() {
    let _serial = serial();
    case(
        &[
            "add",
            "arn:aws:eks:us-east-1:12345:cluster/prod",
            "--management-role-arn",
            MANAGEMENT,
        ],
        USAGE,
        &[
            "is not an EKS cluster ARN",
            "arn:aws:eks:<region>:<account>:cluster/<name>",
        ],
    );
}

#[test]
fn role_arn_where_a_cluster_goes() {
    let _serial = serial();
    case(
        &["add", MANAGEMENT, "--management-role-arn", MANAGEMENT],
        USAGE,
        &[
            "is an IAM role ARN, not an EKS cluster ARN",
            "roles go in --role-arn",
        ],
    );
}

#[test]
fn cluster_arn_where_a_role_goes() {
    let _serial = serial();
    case(
        &add_args(&[
            "--role-arn",
            "arn:aws:eks:us-east-1:123456789012:cluster/staging",
        ]),
        USAGE,
        &[
            "--role-arn",
            "is an EKS cluster ARN, not an IAM role ARN",
            "arn:aws:iam::<account>:role/<name>",
        ],
    );
}

#[test]
fn assumed_role_session_where_a_role_goes() {
    let _serial = serial();
    case(
        &[
            "add",
            "staging",
            "--management-role-arn",
            "arn:aws:sts::123456789012:assumed-role/argocd-management/session",
        ],
        USAGE,
        &["assumed-role session ARN", "use the role's own ARN"],
    );
}

#[test]
fn partition_aws_does_not_have() {
    let _serial = serial();
    case(
        &[
            "add",
            "arn:aws-mars:eks:us-east-1:123456789012:cluster/prod",
            "--management-role-arn",
            MANAGEMENT,
        ],
        USAGE,
        &[
            "names partition \"aws-mars\", which AWS does not have",
            "aws-cn",
        ],
    );
}

#[test]
fn region_in_the_wrong_partition() {
    let _serial = serial();
    case(
        &[
            "add",
            "arn:aws:eks:cn-north-1:123456789012:cluster/prod",
            "--management-role-arn",
            MANAGEMENT,
        ],
        USAGE,
        &["cn-north-1 is in aws-cn", "arn:aws-cn:"],
    );
}

#[test]
fn role_of_another_partition_than_the_target() {
    let _serial = serial();
    case(
        &add_args(&[
            "--role-arn",
            "arn:aws-cn:iam::210987654321:role/argocd-deployer",
        ]),
        USAGE,
        &[
            "cannot be assumed across partitions",
            "use roles in aws (arn:aws:iam::...)",
        ],
    );
}

// ---------------------------------------------------------------- the target

#[test]
fn unknown_cluster() {
    let _serial = serial();
    case(
        &[
            "add",
            "no-such-cluster",
            "--region",
            "us-east-1",
            "--management-role-arn",
            MANAGEMENT,
            "--yes",
        ],
        NOT_FOUND,
        &[
            "EKS cluster no-such-cluster in us-east-1 was not found",
            "Pass --region with the cluster's region",
        ],
    );
}

#[test]
fn cluster_in_another_region() {
    let _serial = serial();
    // prod-eu is in eu-west-1.
    case(
        &[
            "add",
            "prod-eu",
            "--region",
            "us-east-1",
            "--management-role-arn",
            MANAGEMENT,
            "--yes",
        ],
        NOT_FOUND,
        &["prod-eu in us-east-1 was not found", "--all-regions"],
    );
}

/// A cluster of this test's own in a region no other test looks in, put in `status`.
fn cluster_in_status(status: &str) -> String {
    let name = format!("badin-{}-{}", status.to_lowercase(), std::process::id());
    block_on(async {
        let eks = eks("ca-central-1").await;
        let _ = eks
            .create_cluster()
            .name(&name)
            .role_arn("arn:aws:iam::123456789012:role/eks-cluster-role")
            .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().build())
            .send()
            .await;
    });
    let body = format!(
        r#"{{"account":"123456789012","region":"ca-central-1","name":"{name}","status":"{status}"}}"#
    );
    let posted = std::process::Command::new("curl")
        .args(["-sf", "-XPOST", "-d", &body])
        .arg(format!(
            "{}/_sandbox/eks/cluster",
            env("ARGOCD_EKS_SANDBOX_MOTO_URL")
        ))
        .output()
        .unwrap();
    assert!(posted.status.success());
    name
}

fn not_active(status: &str, says: &str) {
    let name = cluster_in_status(status);
    case(
        &[
            "add",
            &name,
            "--region",
            "ca-central-1",
            "--argocd-namespace",
            shared_namespace(),
            "--management-role-arn",
            MANAGEMENT,
            "--yes",
            // --force does not make a cluster that is not ACTIVE registrable.
            "--force",
        ],
        REFUSED,
        &[
            &format!("is {status}, not ACTIVE"),
            says,
            "Nothing was changed",
        ],
    );
}

#[test]
fn cluster_creating() {
    let _serial = serial();
    not_active("CREATING", "aws eks wait cluster-active");
}

#[test]
fn cluster_deleting() {
    let _serial = serial();
    not_active("DELETING", "register another cluster");
}

#[test]
fn cluster_failed() {
    let _serial = serial();
    not_active("FAILED", "aws eks describe-cluster");
}

// ---------------------------------------------------------------- the hub

#[test]
fn argocd_namespace_missing() {
    let _serial = serial();
    let mut args = add_args(&[]);
    args[5] = "no-argocd-here";
    case(
        &args,
        NOT_FOUND,
        &[
            "service account no-argocd-here/argocd-application-controller was not found",
            "Pass --argocd-namespace with the namespace Argo CD runs in",
        ],
    );
}

#[test]
fn argocd_service_account_missing() {
    let _serial = serial();
    let namespace = argocd_namespace_with("badin-nosa", &["argocd-server"]);
    let mut args = add_args(&[]);
    args[5] = &namespace;
    case(
        &args,
        NOT_FOUND,
        &[
            "argocd-application-controller was not found",
            "Is Argo CD installed in namespace",
        ],
    );
}

/// A kubeconfig file of this process's own with `text`.
fn kubeconfig_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("badin-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The sandbox's kubeconfig with `edit` applied to its text.
fn edited_kubeconfig(name: &str, edit: impl Fn(&str) -> String) -> String {
    let text = std::fs::read_to_string(env("KUBECONFIG")).unwrap();
    kubeconfig_file(name, &edit(&text))
}

#[test]
fn no_current_context() {
    let _serial = serial();
    let path = edited_kubeconfig("nocurrent", |t| {
        t.lines()
            .filter(|l| !l.starts_with("current-context:"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    case(
        &add_args(&["--kubeconfig", &path]),
        USAGE,
        &[
            "it has no current context",
            "Pass --context with one of its contexts",
            "sandbox-restricted",
        ],
    );
}

#[test]
fn kubeconfig_that_does_not_parse() {
    let _serial = serial();
    let path = kubeconfig_file("broken", "apiVersion: v1\nclusters: [\n  - oops: {\n");
    case(
        &add_args(&["--kubeconfig", &path]),
        USAGE,
        &["it is not valid YAML", "Fix the file"],
    );
}

#[test]
fn kubeconfig_file_missing() {
    let _serial = serial();
    case(
        &add_args(&["--kubeconfig", "/nonexistent/kubeconfig"]),
        USAGE,
        &[
            "could not read /nonexistent/kubeconfig: No such file or directory",
            "Point --kubeconfig (or KUBECONFIG) at a kubeconfig file",
        ],
    );
}

#[test]
fn context_missing() {
    let _serial = serial();
    case(
        &add_args(&["--context", "no-such-context"]),
        USAGE,
        &[
            "it has no context named no-such-context",
            "Pass --context with one of its contexts",
        ],
    );
}

#[test]
fn hub_unreachable() {
    let _serial = serial();
    let server = env("ARGOCD_EKS_SANDBOX_APISERVER");
    let path = edited_kubeconfig("unreachable", |t| t.replace(&server, "https://127.0.0.1:9"));
    case(
        &add_args(&["--kubeconfig", &path]),
        FAILURE,
        &[
            "could not reach the Kubernetes API of context",
            "at https://127.0.0.1:9: Connection refused",
            "Check that the hub's API server is reachable from here (kubectl --context",
        ],
    );
}

/// Base64 of a CA of this process's own, which never signed the sandbox apiserver's
/// certificate (as kubeconfigs and EKS's certificateAuthority.data hold a CA).
fn wrong_ca_data() -> String {
    static DATA: OnceLock<String> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("badin-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=not-the-hub-ca"])
            .arg("-keyout")
            .arg(dir.join("ca.key"))
            .arg("-out")
            .arg(dir.join("ca.crt"))
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let encoded = std::process::Command::new("base64")
            .arg("-w0")
            .arg(dir.join("ca.crt"))
            .output()
            .unwrap();
        String::from_utf8(encoded.stdout).unwrap()
    })
    .clone()
}

#[test]
fn hub_whose_certificate_does_not_verify_against_the_kubeconfigs_ca() {
    let _serial = serial();
    let data = wrong_ca_data();
    let path = edited_kubeconfig("wrongca", |t| {
        t.lines()
            .map(|l| match l.split_once("certificate-authority-data: ") {
                Some((indent, _)) => format!("{indent}certificate-authority-data: {data}"),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    case(
        &add_args(&["--kubeconfig", &path]),
        FAILURE,
        &[
            "the hub's TLS certificate does not verify against the kubeconfig's CA",
            "never turns TLS verification off",
        ],
    );
}

#[test]
fn insecure_skip_tls_verify_in_the_kubeconfig_is_refused() {
    let _serial = serial();
    let path = edited_kubeconfig("insecure", |t| {
        t.lines()
            .map(|l| match l.split_once("certificate-authority-data: ") {
                Some((indent, _)) => format!("{indent}insecure-skip-tls-verify: true"),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    case(
        &add_args(&["--kubeconfig", &path]),
        USAGE,
        &[
            "sets insecure-skip-tls-verify, and this tool never turns TLS verification off",
            "give its CA instead",
        ],
    );
}

// ---------------------------------------------------------------- AWS endpoints and credentials

#[test]
fn aws_endpoint_unreachable() {
    let _serial = serial();
    case_env(
        &add_args(&[]),
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
        &[],
        FAILURE,
        &[
            "could not reach EKS at http://127.0.0.1:9",
            "Check the network, any proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL",
        ],
    );
}

#[test]
fn aws_credentials_wrong() {
    let _serial = serial();
    case_env(
        &add_args(&[]),
        &[
            ("AWS_ACCESS_KEY_ID", "AKIANOBODYISSUEDTHIS"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-secret"),
        ],
        &[],
        DENIED,
        &[
            "does not accept these credentials",
            "aws sts get-caller-identity",
        ],
    );
}

#[test]
fn aws_credentials_missing() {
    let _serial = serial();
    case_env(
        &add_args(&[]),
        &[
            // Files that exist and hold no profile.
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ],
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ],
        DENIED,
        &[
            "found no AWS credentials",
            "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ],
    );
}

#[test]
fn aws_credentials_expired() {
    let _serial = serial();
    // Session credentials of an assumed role, which the sandbox then ends, as time would.
    let credentials = block_on(async {
        let sts = aws_sdk_sts::Client::new(&sdk_config("us-east-1").await);
        sts.assume_role()
            .role_arn(MANAGEMENT)
            .role_session_name("badin-expired")
            .send()
            .await
            .unwrap()
            .credentials()
            .unwrap()
            .clone()
    });
    let expired = std::process::Command::new("curl")
        .args(["-sf", "-XPOST", "-d"])
        .arg(format!(
            r#"{{"accessKeyId":"{}"}}"#,
            credentials.access_key_id()
        ))
        .arg(format!(
            "{}/_sandbox/credentials/expire",
            env("ARGOCD_EKS_SANDBOX_MOTO_URL")
        ))
        .output()
        .unwrap();
    assert!(expired.status.success());
    case_env(
        &add_args(&[]),
        &[
            ("AWS_ACCESS_KEY_ID", credentials.access_key_id()),
            ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key()),
            ("AWS_SESSION_TOKEN", credentials.session_token()),
        ],
        &[],
        DENIED,
        &["the AWS credentials have expired", "aws sso login"],
    );
}

#[test]
fn aws_profile_missing() {
    let _serial = serial();
    case(
        &add_args(&["--profile", "no-such-profile"]),
        USAGE,
        &[
            "have no profile no-such-profile",
            "leave --profile out to use the default credentials",
        ],
    );
}

// ---------------------------------------------------------------- Secret fields and flags

#[test]
fn label_key_invalid() {
    let _serial = serial();
    case(
        &add_args(&["--label", "team name=a"]),
        USAGE,
        &["\"team name\" is not a valid key", "a key is [prefix/]name"],
    );
}

#[test]
fn label_value_invalid() {
    let _serial = serial();
    case(
        &add_args(&["--label", "team=platform team"]),
        USAGE,
        &[
            "\"platform team\" is not a valid label value",
            "put free text in an --annotation instead",
        ],
    );
}

#[test]
fn annotation_key_invalid() {
    let _serial = serial();
    case(
        &add_args(&["--annotation", "Example.COM/owner=me"]),
        USAGE,
        &[
            "its prefix \"Example.COM\" is not a DNS subdomain",
            "lower-case",
        ],
    );
}

#[test]
fn label_reserved_for_the_tool() {
    let _serial = serial();
    case(
        &add_args(&["--label", "argocd.argoproj.io/secret-type=repository"]),
        USAGE,
        &["is set by the tool itself", "choose another key"],
    );
}

#[test]
fn label_value_over_the_limit() {
    let _serial = serial();
    let label = format!("team={}", "a".repeat(64));
    case(
        &add_args(&["--label", &label]),
        USAGE,
        &["64 characters long", "at most 63"],
    );
}

#[test]
fn cluster_name_over_the_limit() {
    let _serial = serial();
    let name = "c".repeat(101);
    case(
        &["add", &name, "--management-role-arn", MANAGEMENT],
        USAGE,
        &["101 characters long", "at most 100"],
    );
}

#[test]
fn secret_name_over_the_limit() {
    let _serial = serial();
    let name = "s".repeat(254);
    case(
        &add_args(&["--secret-name", &name]),
        USAGE,
        &["254 characters long", "at most 253"],
    );
}

#[test]
fn namespace_name_over_the_limit() {
    let _serial = serial();
    let name = "n".repeat(64);
    let mut args = add_args(&[]);
    args[5] = &name;
    case(&args, USAGE, &["64 characters long", "at most 63"]);
}

#[test]
fn project_name_invalid() {
    let _serial = serial();
    case(
        &add_args(&["--project", "Team A"]),
        USAGE,
        &["is not an Argo CD project name", "lower-case letters"],
    );
}

#[test]
fn conflicting_skip_access_and_access_policy() {
    let _serial = serial();
    case(
        &add_args(&["--skip-access", "--access-policy", "AmazonEKSViewPolicy"]),
        USAGE,
        &["'--skip-access' cannot be used with '--access-policy"],
    );
}

#[test]
fn conflicting_region_and_all_regions() {
    let _serial = serial();
    case(
        &add_args(&["--all-regions"]),
        USAGE,
        &["cannot be used with '--all-regions'"],
    );
}

#[test]
fn conflicting_native_chaining_and_irsa() {
    let _serial = serial();
    case(
        &add_args(&[
            "--identity",
            "irsa",
            "--native-chaining",
            "--role-arn",
            TARGET_ROLE,
        ]),
        USAGE,
        &[
            "--native-chaining is pod identity's targetRoleArn",
            "--identity pod-identity",
        ],
    );
}

#[test]
fn cluster_resources_without_namespaces() {
    let _serial = serial();
    case(
        &add_args(&["--cluster-resources"]),
        USAGE,
        &["--cluster-resources only means something with --namespaces"],
    );
}

#[test]
fn secret_name_for_two_clusters() {
    let _serial = serial();
    case(
        &add_args(&["prod-eu", "--secret-name", "one"]),
        USAGE,
        &[
            "--secret-name and --name apply to one cluster",
            "one at a time",
        ],
    );
}

#[test]
fn no_terminal_and_no_yes() {
    let _serial = serial();
    let mut args = add_args(&[]);
    args.retain(|a| *a != "--yes");
    let namespace = argocd_namespace("badin-noyes");
    args[5] = &namespace;
    case(
        &[&args[..], &["--force"]].concat(),
        USAGE,
        &[
            "there is no terminal to confirm on",
            "pass --yes to apply, or --dry-run",
        ],
    );
}

// ---------------------------------------------------------------- TLS is always verified

#[test]
fn doctor_fails_a_target_whose_certificate_its_ca_does_not_verify() {
    let _serial = serial();
    // A target served by the sandbox apiserver whose CA (in EKS, hence in the Secret) is
    // another one: Argo CD could not connect.
    let name = format!("badin-tls-{}", std::process::id());
    block_on(create_cluster(
        "ca-central-1",
        &name,
        aws_sdk_eks::types::AuthenticationMode::Api,
    ));
    let body = format!(
        r#"{{"account":"123456789012","region":"ca-central-1","name":"{name}","endpoint":"{}","caData":"{}"}}"#,
        env("ARGOCD_EKS_SANDBOX_APISERVER"),
        wrong_ca_data()
    );
    let posted = std::process::Command::new("curl")
        .args(["-sf", "-XPOST", "-d", &body])
        .arg(format!(
            "{}/_sandbox/eks/cluster",
            env("ARGOCD_EKS_SANDBOX_MOTO_URL")
        ))
        .output()
        .unwrap();
    assert!(posted.status.success());
    let ns = argocd_namespace("badin-tls");
    let added = add(&ns, &[&name, "--region", "ca-central-1", "--yes"]);
    assert_eq!(added.code, 0, "{added}");
    case(
        &[
            "doctor",
            &name,
            "--region",
            "ca-central-1",
            "--argocd-namespace",
            &ns,
        ],
        3,
        &[
            "FAIL Argo CD's token is accepted by the cluster (connect): the endpoint's TLS certificate does not verify against the Secret's caData",
            "UnknownIssuer",
            "TLS verification is never turned off",
        ],
    );
}

#[test]
fn no_flag_turns_tls_verification_off() {
    let _serial = serial();
    // kubectl's own flag for it is refused, not taken.
    case(
        &add_args(&["--insecure-skip-tls-verify"]),
        USAGE,
        &["unexpected argument '--insecure-skip-tls-verify'"],
    );
    // And no command offers one.
    for command in ["add", "list", "remove", "doctor", "policy", "completion"] {
        let help = tool(&[command, "--help"]);
        assert_eq!(help.code, 0, "{help}");
        let text = help.stdout.to_lowercase();
        for word in ["insecure", "skip-tls", "tls-verify", "no-verify"] {
            assert!(
                !text.contains(word),
                "{command} --help offers {word:?}\n{help}"
            );
        }
    }
}
