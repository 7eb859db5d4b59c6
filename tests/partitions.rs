//! End-to-end tests of the partitions and regions the tool meets: registrations in aws-cn and
//! aws-us-gov on the sandbox (China and GovCloud clusters the sandbox apiserver serves), opt-in
//! regions an account has not enabled, and an AWS endpoint that does not answer.

mod common;

use common::*;
use serde_json::Value;

/// A role in `partition` (IAM in that partition's region), trusted by the hub account's root.
async fn partition_role(region: &str, partition: &str, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&sdk_config(region).await);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:{partition}:iam::123456789012:root"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#
    );
    let created = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    created.role().unwrap().arn().to_owned()
}

/// The tool with AWS_REGION set to `region`.
fn tool_in_region(region: &str, args: &[&str]) -> Run {
    tool_with_env(
        args,
        &[("AWS_REGION", region), ("AWS_DEFAULT_REGION", region)],
    )
}

/// `add` in another partition, then doctor's connect check: the Secret, the access policy and
/// the token's STS host are all in that partition, and the target lets the role in.
async fn registers_in_partition(cluster: &str, region: &str, partition: &str, sts_host: &str) {
    let ns = argocd_namespace(&format!("part-{}", &partition[4..]));
    let role_name = format!("argocd-{}", &ns[ns.len() - 8..]);
    let role = partition_role(region, partition, &role_name).await;
    assert!(
        role.starts_with(&format!("arn:{partition}:iam::")),
        "{role}"
    );
    // Credentials for China or GovCloud come with a region there (AWS_REGION), so IAM and STS
    // calls go to that partition.
    let run = tool_in_region(
        region,
        &[
            "add",
            cluster,
            "--region",
            region,
            "--argocd-namespace",
            &ns,
            "--management-role-arn",
            &role,
            "--identity",
            "irsa",
            "--yes",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let policy_arn =
        format!("arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy");

    let secrets = cluster_secrets(&ns);
    assert_eq!(secrets.len(), 1);
    let data = &secrets[0]["data"];
    assert_eq!(
        decode(&data["name"]),
        format!("arn:{partition}:eks:{region}:123456789012:cluster/{cluster}")
    );
    let config: Value = serde_json::from_str(&decode(&data["config"])).unwrap();
    assert_eq!(config["awsAuthConfig"]["clusterName"], cluster);

    let eks = eks(region).await;
    let policies = eks
        .list_associated_access_policies()
        .cluster_name(cluster)
        .principal_arn(&role)
        .send()
        .await
        .unwrap();
    let associated: Vec<&str> = policies
        .associated_access_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(associated, [policy_arn.as_str()]);

    let doctor = tool_in_region(region, &["doctor", "--argocd-namespace", &ns, "-o", "json"]);
    let report: Value = serde_json::from_str(&doctor.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", doctor.stdout, doctor.stderr));
    let findings: Vec<&Value> = report
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["findings"].as_array().into_iter().flatten())
        .collect();
    let text = report.to_string();
    let connect = findings
        .iter()
        .find(|f| f["check"].as_str().is_some_and(|c| c.contains("(connect)")))
        .unwrap_or_else(|| panic!("no connect check in {text}"));
    assert_eq!(connect["status"], "pass", "{connect}");
    let detail = connect["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("token for {sts_host}")),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            "arn:{partition}:sts::123456789012:assumed-role/{role_name}/"
        )),
        "{detail}"
    );
    eks.delete_access_entry()
        .cluster_name(cluster)
        .principal_arn(&role)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn registration_in_china_is_in_aws_cn_end_to_end() {
    registers_in_partition(
        "china-prod",
        "cn-north-1",
        "aws-cn",
        "sts.cn-north-1.amazonaws.com.cn",
    )
    .await;
}

#[tokio::test]
async fn registration_in_govcloud_is_in_aws_us_gov_end_to_end() {
    registers_in_partition(
        "gov-prod",
        "us-gov-west-1",
        "aws-us-gov",
        "sts.us-gov-west-1.amazonaws.com",
    )
    .await;
}

#[test]
fn all_regions_skips_the_opt_in_regions_the_account_has_not_enabled() {
    // The sandbox's hub account has not enabled ap-east-2 and mx-central-1.
    let ns = argocd_namespace("optin");
    let run = add(
        &ns,
        &[
            "staging",
            "--all-regions",
            "--identity",
            "irsa",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("Skipped 2 region(s) that refuse these credentials")
            && run.stderr.contains("ap-east-2, mx-central-1"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("staging"), "{}", run.stdout);
}

#[test]
fn a_named_region_that_refuses_fails_and_says_why() {
    let ns = argocd_namespace("optin-named");
    let run = add(
        &ns,
        &[
            "staging",
            "--region",
            "us-east-1",
            "--region",
            "ap-east-2",
            "--identity",
            "irsa",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("does not accept these credentials")
            && run.stderr.contains("opt-in region")
            && run.stderr.contains("EKS at "),
        "{}",
        run.stderr
    );
    assert!(cluster_secrets(&ns).is_empty());
}

#[test]
fn an_aws_endpoint_that_does_not_answer_is_named_without_debug_output() {
    let ns = argocd_namespace("unreachable");
    let run = tool_with_env(
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
            "--dry-run",
        ],
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    let stderr = &run.stderr;
    assert_eq!(run.code, 1, "{stderr}");
    assert!(
        stderr.contains("could not reach EKS at http://127.0.0.1:9: ")
            && stderr.to_lowercase().contains("connection refused"),
        "{stderr}"
    );
    for debug in ["DispatchFailure", "ConnectorError", "{ ", "Some("] {
        assert!(!stderr.contains(debug), "{debug} in {stderr}");
    }
}
