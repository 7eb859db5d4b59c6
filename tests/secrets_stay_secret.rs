//! Nothing secret reaches the output, even at -vvv: not the caller's secret access key, not a
//! session token from an assumed role, not a bearer token or an EKS token (`k8s-aws-v1.`).

mod common;

use common::*;

/// The tool at -vvv with `key` as the caller's credentials: stdout and stderr together.
fn verbose(key: &(String, String), args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.push("-vvv");
    let run = tool_with_env(
        &args,
        &[
            ("AWS_ACCESS_KEY_ID", &key.0),
            ("AWS_SECRET_ACCESS_KEY", &key.1),
            ("RUST_LOG", "trace"),
        ],
    );
    format!("{}{}", run.stdout, run.stderr)
}

#[tokio::test]
async fn add_doctor_and_remove_at_vvv_print_no_secret() {
    // A user of our own, so its secret is a string no other output could hold by chance.
    let iam = aws_sdk_iam::Client::new(&sdk_config("us-east-1").await);
    let user = format!("secrets-{}", std::process::id());
    iam.create_user().user_name(&user).send().await.unwrap();
    let created = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let key = created.access_key().unwrap();
    let key = (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    );
    let bearer = std::fs::read_to_string(env("ARGOCD_EKS_SANDBOX_ADMIN_TOKEN_FILE")).unwrap();

    let ns = argocd_namespace("secrets");
    let add = verbose(
        &key,
        &[
            "add",
            "staging",
            "--region",
            "us-east-1",
            "--argocd-namespace",
            &ns,
            "--management-role-arn",
            MANAGEMENT,
            "--identity",
            "irsa",
            "--yes",
        ],
    );
    assert!(add.contains("Registered"), "{add}");
    // doctor assumes the roles and mints an EKS token for its connect check.
    let doctor = verbose(&key, &["doctor", "--argocd-namespace", &ns]);
    assert!(doctor.contains("(connect)"), "{doctor}");
    let remove = verbose(
        &key,
        &["remove", "staging", "--argocd-namespace", &ns, "--yes"],
    );
    for (command, output) in [("add", &add), ("doctor", &doctor), ("remove", &remove)] {
        assert!(
            !output.contains(&key.1),
            "{command} printed the secret access key"
        );
        assert!(
            !output.contains(bearer.trim()),
            "{command} printed a bearer token"
        );
        assert!(
            !output.contains("k8s-aws-v1."),
            "{command} printed an EKS token"
        );
        for leak in ["X-Amz-Security-Token=", "x-amz-security-token: ", "Bearer "] {
            assert!(!output.contains(leak), "{command} printed {leak}...");
        }
        assert!(
            !output.contains("session_token: \"") || output.contains("** redacted **"),
            "{command} printed a session token"
        );
    }
    iam.delete_access_key()
        .user_name(&user)
        .access_key_id(&key.0)
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name(&user).send().await.unwrap();
}
