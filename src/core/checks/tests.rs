//! Unit tests of doctor's checks.

use super::identity::restart_check;
use super::target::aws_auth_finding;
use super::*;
use crate::core::model::{AuthenticationMode, Lookup};
use crate::core::policy::generate::{self, NamedPolicy};
use crate::core::secret::{OwnedFields, SecretOptions, desired_secret};

pub(super) const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";

pub(super) fn hub(irsa_role: Option<&str>) -> HubFacts {
    HubFacts {
        namespace: "argocd".into(),
        service_accounts: crate::core::model::ARGOCD_SERVICE_ACCOUNTS
            .iter()
            .map(|(name, _)| ObservedServiceAccount {
                name: (*name).into(),
                irsa_role: irsa_role.map(str::to_owned),
                irsa_changed_at: Some(100),
            })
            .collect(),
        may_create_secrets: Some(true),
        ..HubFacts::default()
    }
}

pub(super) fn cluster() -> EksCluster {
    EksCluster {
        arn: ClusterArn::new("aws", "eu-west-1", "123456789012", "prod"),
        endpoint: "https://P.gr7.eu-west-1.eks.amazonaws.com".into(),
        ca_data: "Q0E=".into(),
        status: "ACTIVE".into(),
        version: None,
        oidc_issuer: None,
        authentication_mode: Some(AuthenticationMode::Api),
    }
}

pub(super) fn target(role: Option<&str>) -> TargetFacts {
    let role = role.map(|r| RoleArn::parse(r).unwrap());
    let options = SecretOptions {
        namespace: "argocd".into(),
        ..SecretOptions::default()
    };
    let desired = desired_secret(&cluster(), role.as_ref(), &options);
    TargetFacts {
        secret: ObservedSecret {
            namespace: desired.namespace,
            name: desired.name,
            labels: desired.labels,
            annotations: desired.annotations,
            data: desired.data,
            owned: OwnedFields::default(),
        },
        cluster_arn: Some(cluster().arn),
        described: Lookup::Found(cluster()),
        target_role: None,
        access_entry: Lookup::Found(vec![AccessPolicyAssociation {
            policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy".into(),
            scope: crate::core::model::AccessScope::Cluster,
        }]),
        connection: Some(Connection::Authenticated {
            username: "argocd".into(),
            groups: vec!["system:masters".into()],
        }),
        aws_auth: Lookup::Unknown,
    }
}

pub(super) fn statuses(section: &Section) -> Vec<(String, Status)> {
    section
        .findings
        .iter()
        .map(|f| (f.check.clone(), f.status))
        .collect()
}

pub(super) fn failed<'a>(section: &'a Section, check: &str) -> &'a Finding {
    section
        .findings
        .iter()
        .find(|f| f.check.contains(check) && f.status == Status::Fail)
        .unwrap_or_else(|| panic!("{check} did not fail: {:?}", statuses(section)))
}

#[test]
fn identity_is_the_annotation_first_then_the_association() {
    let mut facts = hub(Some(MANAGEMENT));
    assert_eq!(
        detect_identity(&facts),
        Some((IdentityMode::Irsa, MANAGEMENT.into()))
    );
    facts.associations.push(PodIdentityAssociation {
        id: "a-1".into(),
        service_account: SaRef::new("argocd", "argocd-application-controller"),
        role_arn: "arn:aws:iam::123456789012:role/other".into(),
        managed_by_us: true,
        changed_at: None,
    });
    // Both: SDKs use IRSA, and doctor says the service account has two identities.
    assert_eq!(detect_identity(&facts).unwrap().0, IdentityMode::Irsa);
    let both = identity_checks(&facts);
    assert!(both.findings[0].check.contains("one identity"), "{both:?}");
    assert_eq!(both.findings[0].status, Status::Fail);
    let mut pod_identity_only = hub(None);
    pod_identity_only.associations = facts.associations.clone();
    assert_eq!(
        detect_identity(&pod_identity_only).unwrap().0,
        IdentityMode::PodIdentity
    );
    assert!(identity_checks(&hub(None)).failed());
}

#[test]
fn a_direct_registration_that_matches_passes() {
    let section = target_checks(&hub(Some(MANAGEMENT)), &target(None));
    assert!(!section.failed(), "{:?}", statuses(&section));
}

#[test]
fn rotated_ca_and_missing_access_entry_fail_with_fixes() {
    let mut facts = target(None);
    let mut rotated = cluster();
    rotated.ca_data = "TkVX".into();
    facts.described = Lookup::Found(rotated);
    facts.access_entry = Lookup::Absent;
    let section = target_checks(&hub(Some(MANAGEMENT)), &facts);
    let ca = failed(&section, "caData");
    assert!(ca.detail.contains("rotated"));
    let access = failed(&section, "access entry");
    let fix = access.fix.as_deref().unwrap();
    assert!(
        fix.contains("create-access-entry") && fix.contains(MANAGEMENT),
        "{fix}"
    );
}

#[test]
fn a_cluster_that_is_gone_and_an_unreadable_one_differ() {
    let mut facts = target(None);
    facts.described = Lookup::Absent;
    let section = target_checks(&hub(Some(MANAGEMENT)), &facts);
    assert!(
        failed(&section, "DescribeCluster")
            .detail
            .contains("no longer exists")
    );
    facts.described = Lookup::Unknown;
    facts.access_entry = Lookup::Unknown;
    let section = target_checks(&hub(Some(MANAGEMENT)), &facts);
    assert!(!section.failed(), "{:?}", statuses(&section));
    assert!(
        section
            .findings
            .iter()
            .any(|f| f.status == Status::CannotTell)
    );
}

#[test]
fn a_chained_role_needs_permission_and_trust() {
    let target_role = "arn:aws:iam::210987654321:role/deployer";
    let mut facts = target(Some(target_role));
    facts.target_role = Some(RoleFacts {
        arn: RoleArn::parse(target_role).unwrap(),
        trust: Some(generate::target_role_trust(
            &RoleArn::parse(MANAGEMENT).unwrap(),
            false,
        )),
        permissions: vec![],
    });
    let mut hub = hub(Some(MANAGEMENT));
    hub.management_role = Some(RoleFacts {
        arn: RoleArn::parse(MANAGEMENT).unwrap(),
        trust: None,
        permissions: vec![],
    });
    let section = target_checks(&hub, &facts);
    let permission = failed(&section, "may sts:AssumeRole");
    assert!(permission.fix.as_deref().unwrap().contains(target_role));

    let role = RoleArn::parse(target_role).unwrap();
    hub.management_role.as_mut().unwrap().permissions = vec![NamedPolicy {
        name: "kubectl-argocd-eks".into(),
        document: generate::management_permissions(&[role], false).unwrap(),
    }];
    assert!(!target_checks(&hub, &facts).failed());
}

#[test]
fn pods_started_before_the_identity_changed_must_restart() {
    let mut facts = hub(Some(MANAGEMENT));
    facts.identity_changed_at = Some(100);
    facts.pods = vec![PodFacts {
        name: "argocd-server-1".into(),
        service_account: "argocd-server".into(),
        created: 99,
    }];
    assert_eq!(restart_check(&facts).status, Status::Fail);
    facts.pods[0].created = 100;
    assert_eq!(restart_check(&facts).status, Status::Pass);
    facts.identity_changed_at = None;
    assert_eq!(restart_check(&facts).status, Status::CannotTell);
}

#[test]
fn aws_auth_must_map_the_role_arn_without_path() {
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/teams/deployer").unwrap();
    let finding = |text: &str| aws_auth_finding(Some(&role), &Lookup::Found(text.to_owned()));
    let good = "- rolearn: arn:aws:iam::123456789012:role/deployer\n  groups: [system:masters]\n";
    assert_eq!(finding(good).status, Status::Pass);
    let session = "- rolearn: arn:aws:sts::123456789012:assumed-role/deployer/argocd\n";
    assert!(finding(session).detail.contains("assumed-role session ARN"));
    let with_path = "- rolearn: arn:aws:iam::123456789012:role/teams/deployer\n";
    assert!(finding(with_path).detail.contains("without the path"));
    assert_eq!(finding("[]").status, Status::Fail);
    assert_eq!(
        aws_auth_finding(Some(&role), &Lookup::Unknown).status,
        Status::CannotTell
    );
    let missing = aws_auth_finding(Some(&role), &Lookup::Absent);
    assert!(
        missing
            .fix
            .unwrap()
            .contains("rolearn: arn:aws:iam::123456789012:role/deployer")
    );
}
