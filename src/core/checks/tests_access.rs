//! Unit tests of doctor's access checks: the aws-auth mapping as the authenticator reads it,
//! access entries and their policies, and which of them each authentication mode lets count.

use super::access::aws_auth_finding;
use super::tests::*;
use super::*;
use crate::core::model::AuthenticationMode;

fn with_aws_auth(aws_auth: Option<Option<&str>>) -> TargetFacts {
    let mut facts = target(None);
    facts.aws_auth = match aws_auth {
        None => Lookup::Unknown,
        Some(None) => Lookup::Absent,
        Some(Some(text)) => Lookup::Found(text.to_owned()),
    };
    facts
}

const CHECK: &str = "aws-auth maps the role";

#[test]
fn aws_auth_must_map_the_role_arn_without_path() {
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/teams/deployer").unwrap();
    let finding =
        |text: &str| aws_auth_finding(CHECK, Some(&role), &with_aws_auth(Some(Some(text))));
    let good = "- rolearn: arn:aws:iam::123456789012:role/deployer\n  groups: [system:masters]\n";
    assert_eq!(finding(good).status, Status::Pass);
    let session = "- rolearn: arn:aws:sts::123456789012:assumed-role/deployer/argocd\n";
    assert!(finding(session).detail.contains("assumed-role session ARN"));
    let with_path = "- rolearn: arn:aws:iam::123456789012:role/teams/deployer\n";
    assert!(finding(with_path).detail.contains("without the path"));
    assert_eq!(finding("[]").status, Status::Fail);
    assert_eq!(
        aws_auth_finding(CHECK, Some(&role), &with_aws_auth(None)).status,
        Status::CannotTell
    );
    let missing = aws_auth_finding(CHECK, Some(&role), &with_aws_auth(Some(None)));
    assert!(
        missing
            .fix
            .unwrap()
            .contains("rolearn: arn:aws:iam::123456789012:role/deployer")
    );
}

#[test]
fn aws_auth_is_read_as_the_authenticator_reads_it() {
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/teams/Deployer").unwrap();
    // Keys in any case, the ARN in another case, and an SSO entry the role does not use.
    let text = "- sso: {permissionSetName: Admin, accountID: \"123456789012\"}\n  username: admin\n  groups: [system:masters]\n- roleARN: arn:aws:iam::123456789012:role/deployer\n  Username: argocd\n  Groups: [system:masters]\n";
    let finding = aws_auth_finding(CHECK, Some(&role), &with_aws_auth(Some(Some(text))));
    assert_eq!(finding.status, Status::Pass, "{finding:?}");
    assert!(finding.detail.contains("system:masters"), "{finding:?}");
}

fn mode(facts: &mut TargetFacts, mode: AuthenticationMode) {
    let mut cluster = cluster();
    cluster.authentication_mode = Some(mode);
    facts.described = Lookup::Found(cluster);
}

#[test]
fn api_and_config_map_lets_the_role_in_by_an_entry_or_an_aws_auth_mapping() {
    let mut facts = with_aws_auth(Some(Some(
        "- rolearn: arn:aws:iam::123456789012:role/argocd-management\n  groups: [system:masters]\n",
    )));
    mode(&mut facts, AuthenticationMode::ApiAndConfigMap);
    facts.access_entry = Lookup::Absent;
    let hub = hub(Some(MANAGEMENT));
    assert_eq!(access(&target_checks(&hub, &facts)).status, Status::Pass);
    // aws-auth not readable from here: cannot tell, not a failure.
    facts.aws_auth = Lookup::Unknown;
    assert_eq!(
        access(&target_checks(&hub, &facts)).status,
        Status::CannotTell
    );
    // Neither an entry nor a mapping: fail, naming both.
    facts.aws_auth = Lookup::Found("[]".into());
    let finding = access(&target_checks(&hub, &facts)).clone();
    assert_eq!(finding.status, Status::Fail);
    assert!(
        finding.detail.contains("no access entry") && finding.detail.contains("mapRoles"),
        "{finding:?}"
    );
    // An entry with nothing in it shadows the mapping (access entries win for the same role).
    facts.aws_auth = with_aws_auth(Some(Some(
        "- rolearn: arn:aws:iam::123456789012:role/argocd-management\n  groups: [system:masters]\n",
    )))
    .aws_auth;
    facts.access_entry = Lookup::Found(AccessEntry::default());
    let finding = access(&target_checks(&hub, &facts)).clone();
    assert_eq!(finding.status, Status::Fail);
    assert!(
        finding.detail.contains("wins over any aws-auth"),
        "{finding:?}"
    );
}

#[test]
fn an_entry_with_groups_and_no_policy_is_fine_when_rbac_binds_a_group() {
    let mut facts = target(None);
    facts.access_entry = Lookup::Found(AccessEntry {
        policies: vec![],
        kubernetes_groups: vec!["argocd-admins".into()],
    });
    let hub = hub(Some(MANAGEMENT));
    assert_eq!(
        access(&target_checks(&hub, &facts)).status,
        Status::CannotTell
    );
    facts.group_bindings = Some(vec![GroupBinding {
        binding: "ClusterRoleBinding argocd-admins".into(),
        role: "ClusterRole cluster-admin".into(),
        groups: vec!["argocd-admins".into()],
    }]);
    let finding = access(&target_checks(&hub, &facts)).clone();
    assert_eq!(finding.status, Status::Pass, "{finding:?}");
    assert!(
        finding.detail.contains("ClusterRoleBinding argocd-admins"),
        "{finding:?}"
    );
    facts.group_bindings = Some(vec![GroupBinding {
        binding: "RoleBinding apps/viewers".into(),
        role: "ClusterRole view".into(),
        groups: vec!["viewers".into()],
    }]);
    let finding = access(&target_checks(&hub, &facts)).clone();
    assert_eq!(finding.status, Status::Fail);
    assert!(finding.fix.unwrap().contains("--group=argocd-admins"));
}
