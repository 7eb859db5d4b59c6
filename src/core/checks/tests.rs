//! Unit tests of doctor's checks.

use super::identity::restart_check;
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
                resource_version: None,
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
        auto_mode: false,
        tags: std::collections::BTreeMap::new(),
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
        access_entry: Lookup::Found(AccessEntry {
            policies: vec![crate::core::model::AccessPolicyAssociation {
                policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                    .into(),
                scope: crate::core::model::AccessScope::Cluster,
            }],
            kubernetes_groups: vec![],
        }),
        connection: Some(Connection::Authenticated {
            username: "argocd".into(),
            groups: vec!["system:masters".into()],
        }),
        aws_auth: Lookup::Unknown,
        group_bindings: None,
    }
}

pub(super) fn statuses(section: &Section) -> Vec<(String, Status)> {
    section
        .findings
        .iter()
        .map(|f| (f.check.clone(), f.status))
        .collect()
}

/// The access check of a target section.
pub(super) fn access(section: &Section) -> &Finding {
    section
        .findings
        .iter()
        .find(|f| f.check.starts_with("the target lets the role in"))
        .unwrap_or_else(|| panic!("no access check: {:?}", statuses(section)))
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
        target_role_arn: None,
        disable_session_tags: false,
        external_id: None,
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
fn associations_that_could_not_be_read_are_cannot_tell_not_missing() {
    let mut facts = hub(None);
    facts.associations_unread = Some("could not reach EKS at http://127.0.0.1:9".into());
    let section = identity_checks(&facts);
    assert!(!section.failed(), "{section:?}");
    assert_eq!(section.findings[0].status, Status::CannotTell);
    assert!(section.findings[0].detail.contains("could not reach EKS"));
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
fn the_secret_is_read_as_argo_cd_reads_it() {
    // `roleArn` is roleARN for Go's encoding/json: doctor checks the chain through it.
    let mut spelled = target(None);
    spelled.secret.data.insert(
        "config".into(),
        r#"{"awsAuthConfig":{"clusterName":"prod","roleArn":"arn:aws:iam::210987654321:role/argocd-deployer"},"tlsClientConfig":{"caData":"Q0E="}}"#.into(),
    );
    let section = target_checks(&hub(Some(MANAGEMENT)), &spelled);
    let role_check = &section.findings[0];
    assert_eq!(role_check.status, Status::Pass, "{:?}", statuses(&section));
    assert!(
        role_check.detail.contains("argocd-deployer"),
        "{role_check:?}"
    );
    // An empty roleARN is direct mode, not a malformed ARN.
    let mut empty = target(None);
    empty.secret.data.insert(
        "config".into(),
        r#"{"awsAuthConfig":{"clusterName":"prod","roleARN":""},"tlsClientConfig":{"caData":"Q0E="}}"#.into(),
    );
    let section = target_checks(&hub(Some(MANAGEMENT)), &empty);
    assert!(!section.failed(), "{:?}", statuses(&section));
    assert!(
        section.findings[0].detail.contains("direct mode"),
        "{:?}",
        section.findings[0]
    );
}

fn pod_identity_hub(target: Option<&str>, disable_session_tags: bool) -> HubFacts {
    let mut facts = hub(None);
    facts.hub_cluster = Some(EksCluster {
        arn: ClusterArn::new("aws", "us-east-1", "123456789012", "argocd-hub"),
        ..cluster()
    });
    facts.associations = crate::core::model::ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .map(|(name, _)| PodIdentityAssociation {
            id: format!("a-{name}"),
            service_account: SaRef::new("argocd", name),
            role_arn: MANAGEMENT.into(),
            managed_by_us: true,
            changed_at: None,
            target_role_arn: target.map(str::to_owned),
            disable_session_tags,
            external_id: target.map(|_| "ext-1".to_owned()),
        })
        .collect();
    facts
}

#[test]
fn the_pod_identity_agent_counts_on_auto_mode_and_as_a_daemon_set() {
    use crate::core::pod_identity::PodIdentityAgent as Agent;
    assert_eq!(Agent::detect(Some(true), None, None), Some(Agent::AddOn));
    assert_eq!(
        Agent::detect(Some(false), Some(true), None),
        Some(Agent::AutoMode)
    );
    assert_eq!(
        Agent::detect(Some(false), Some(false), Some(true)),
        Some(Agent::DaemonSet)
    );
    assert_eq!(
        Agent::detect(Some(false), Some(false), Some(false)),
        Some(Agent::Absent)
    );
    assert_eq!(Agent::detect(Some(false), None, Some(false)), None);
    let agent_check = |agent| {
        let mut facts = pod_identity_hub(None, false);
        facts.pod_identity_agent = agent;
        identity_checks(&facts)
            .findings
            .into_iter()
            .find(|f| f.check.contains("agent"))
            .unwrap()
    };
    let auto = agent_check(Some(Agent::AutoMode));
    assert_eq!(auto.status, Status::Pass);
    assert!(auto.detail.contains("Auto Mode"), "{auto:?}");
    assert_eq!(agent_check(Some(Agent::DaemonSet)).status, Status::Pass);
    assert_eq!(agent_check(Some(Agent::Absent)).status, Status::Fail);
    assert_eq!(agent_check(None).status, Status::CannotTell);
}

#[test]
fn doctor_checks_the_role_the_pods_really_end_up_with() {
    let native = "arn:aws:iam::123456789012:role/argocd-native-target";
    let facts = pod_identity_hub(Some(native), false);
    assert_eq!(pods_role(&facts).as_deref(), Some(native));
    // Direct mode: the target must let in the association's target role, not the management role.
    let section = target_checks(&facts, &target(None));
    let access = access(&section);
    assert!(access.detail.starts_with(native), "{access:?}");
    // The identity section names the chain and checks that hop (the roles were not read here).
    let identity = identity_checks(&facts);
    assert!(
        identity.title.contains(&format!("-> target {native}")),
        "{}",
        identity.title
    );
    assert!(
        identity
            .findings
            .iter()
            .any(|f| f.check == "the management role may sts:AssumeRole the target role"),
        "{:?}",
        statuses(&identity)
    );
}

#[test]
fn with_session_tags_off_no_role_needs_tag_session() {
    let assume_only = crate::core::policy::document::parse_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    )
    .unwrap();
    let trust_check = |disable| {
        let mut facts = pod_identity_hub(None, disable);
        facts.management_role = Some(RoleFacts {
            arn: RoleArn::parse(MANAGEMENT).unwrap(),
            trust: Some(assume_only.clone()),
            permissions: vec![],
        });
        identity_checks(&facts)
            .findings
            .into_iter()
            .find(|f| f.check.contains("trusts pods.eks.amazonaws.com"))
            .unwrap()
    };
    assert_eq!(trust_check(false).status, Status::Fail);
    let off = trust_check(true);
    assert_eq!(off.status, Status::Pass, "{off:?}");
    assert!(off.check.contains("session tags are off"));
}

#[test]
fn a_certificate_the_secrets_ca_does_not_verify_fails_the_connect_check() {
    let hub = hub(Some(MANAGEMENT));
    let mut facts = target(None);
    facts.connection = Some(Connection::UntrustedCertificate(
        "invalid peer certificate: UnknownIssuer".into(),
    ));
    let section = target_checks(&hub, &facts);
    let finding = failed(&section, "(connect)");
    assert!(
        finding
            .detail
            .contains("does not verify against the Secret's caData")
    );
    assert!(finding.fix.as_deref().unwrap().contains("never turned off"));
    // No answer at all stays "cannot tell".
    facts.connection = Some(Connection::Unreachable("Connection refused".into()));
    let section = target_checks(&hub, &facts);
    assert!(
        statuses(&section)
            .iter()
            .any(|(check, status)| check.contains("(connect)") && *status == Status::CannotTell)
    );
}
