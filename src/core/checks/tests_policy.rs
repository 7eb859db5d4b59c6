//! Unit tests of doctor's policy checks as AWS evaluates them (global condition keys, pod
//! identity's session tags, keys that cannot be known, Deny across policies, sts:TagSession),
//! of the fixes it prints (the document `policy --create` writes), and of the account it reads.

use super::tests::{MANAGEMENT, cluster, failed, hub, statuses, target};
use super::*;
use crate::core::model::{EksCluster, PodIdentityAssociation};
use crate::core::policy::document::{PolicyDocument, parse_policy};
use crate::core::policy::generate::{
    NamedPolicy, oidc_provider_arn, target_role_trust, wanted_roles,
};
use crate::core::policy::plan::{IamAction, ObservedRole, plan_role};

const TARGET: &str = "arn:aws:iam::210987654321:role/deployer";
const ISSUER: &str = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC";

fn doc(json: &str) -> PolicyDocument {
    parse_policy(json).unwrap()
}

fn role(text: &str) -> RoleArn {
    RoleArn::parse(text).unwrap()
}

fn with_issuer(mut hub: HubFacts) -> HubFacts {
    hub.hub_cluster = Some(EksCluster {
        oidc_issuer: Some(ISSUER.into()),
        ..cluster()
    });
    hub
}

/// An IRSA hub whose management role MANAGEMENT has `trust` and `permissions`.
fn irsa_hub(trust: &str, permissions: &[(&str, &str)]) -> HubFacts {
    let mut hub = with_issuer(hub(Some(MANAGEMENT)));
    hub.oidc_providers = Some(vec![oidc_provider_arn("aws", "123456789012", ISSUER)]);
    hub.management_role = Some(facts(MANAGEMENT, trust, permissions));
    hub
}

/// A pod identity hub (an association per service account to MANAGEMENT).
fn pod_identity_hub(trust: &str, permissions: &[(&str, &str)]) -> HubFacts {
    let mut hub = hub(None);
    hub.hub_cluster = Some(cluster());
    hub.pod_identity_agent = Some(crate::core::pod_identity::PodIdentityAgent::AddOn);
    hub.associations = crate::core::model::ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .map(|(name, _)| PodIdentityAssociation {
            id: format!("a-{name}"),
            service_account: SaRef::new("argocd", name),
            role_arn: MANAGEMENT.into(),
            managed_by_us: true,
            changed_at: Some(100),
            target_role_arn: None,
            disable_session_tags: false,
            external_id: None,
        })
        .collect();
    hub.management_role = Some(facts(MANAGEMENT, trust, permissions));
    hub
}

fn facts(arn: &str, trust: &str, permissions: &[(&str, &str)]) -> RoleFacts {
    RoleFacts {
        arn: role(arn),
        trust: Some(doc(trust)),
        permissions: permissions
            .iter()
            .map(|(name, json)| NamedPolicy {
                name: (*name).into(),
                document: doc(json),
            })
            .collect(),
    }
}

fn finding<'a>(section: &'a Section, check: &str) -> &'a Finding {
    section
        .findings
        .iter()
        .find(|f| f.check.contains(check))
        .unwrap_or_else(|| panic!("no {check:?} in {:?}", statuses(section)))
}

/// The JSON document of an `aws iam ... --policy-document '<json>'` fix.
fn fix_document(finding: &Finding) -> PolicyDocument {
    let fix = finding.fix.as_deref().unwrap();
    let start = fix.find("--policy-document '").unwrap() + "--policy-document '".len();
    doc(fix[start..].trim_end_matches('\''))
}

/// Argo CD's documented IRSA trust (declarative-setup.md, "EKS"), for MANAGEMENT and ISSUER.
fn argocd_docs_trust() -> String {
    let provider = oidc_provider_arn("aws", "123456789012", ISSUER);
    let host = ISSUER.trim_start_matches("https://");
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"ExplicitSelfRoleAssumption","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"sts:AssumeRole",
          "Condition":{{"ArnLike":{{"aws:PrincipalArn":"{MANAGEMENT}"}}}}}},
        {{"Sid":"ServiceAccountRoleAssumption","Effect":"Allow","Principal":{{"Federated":"{provider}"}},
          "Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{
            "{host}:sub":["system:serviceaccount:argocd:argocd-application-controller",
                          "system:serviceaccount:argocd:argocd-applicationset-controller",
                          "system:serviceaccount:argocd:argocd-server"],
            "{host}:aud":"sts.amazonaws.com"}}}}}}]}}"#
    )
}

#[test]
fn argo_cds_documented_self_assume_statement_passes() {
    let hub = irsa_hub(&argocd_docs_trust(), &[]);
    assert!(
        !identity_checks(&hub).failed(),
        "{:?}",
        statuses(&identity_checks(&hub))
    );
    let section = target_checks(&hub, &target(Some(MANAGEMENT)));
    let check = finding(&section, "it trusts itself");
    assert_eq!(check.status, Status::Pass, "{check:?}");
}

#[test]
fn a_condition_on_a_key_that_cannot_be_known_is_cannot_tell_never_fail() {
    // The pod's name is a session tag pod identity sets, with a value only known at run time.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],
        "Condition":{"StringLike":{"aws:RequestTag/kubernetes-pod-name":"argocd-*"}}}]}"#;
    let section = identity_checks(&pod_identity_hub(trust, &[]));
    let check = finding(&section, "trusts pods.eks.amazonaws.com");
    assert_eq!(check.status, Status::CannotTell, "{check:?}");
    assert!(check.detail.contains("kubernetes-pod-name"), "{check:?}");
    // The VPC Argo CD's calls come from cannot be known from here either.
    let target_trust = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{MANAGEMENT}"}},"Action":"sts:AssumeRole",
            "Condition":{{"StringEquals":{{"aws:SourceVpc":"vpc-1"}}}}}}]}}"#
    );
    let hub = irsa_hub(&argocd_docs_trust(), &[("p", &allow_assume(TARGET, false))]);
    let mut facts = target(Some(TARGET));
    facts.target_role = Some(self::facts(TARGET, &target_trust, &[]));
    let section = target_checks(&hub, &facts);
    assert!(!section.failed(), "{:?}", statuses(&section));
    let check = finding(&section, "the target role trusts the management role");
    assert_eq!(check.status, Status::CannotTell, "{check:?}");
    assert!(check.detail.contains("aws:SourceVpc"), "{check:?}");
}

fn allow_assume(resource: &str, tag_session: bool) -> String {
    let actions = if tag_session {
        r#"["sts:AssumeRole","sts:TagSession"]"#
    } else {
        r#""sts:AssumeRole""#
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"{resource}"}}]}}"#
    )
}

#[test]
fn an_explicit_deny_in_one_policy_wins_over_an_allow_in_another() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoChaining","Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let hub = irsa_hub(
        &argocd_docs_trust(),
        &[
            ("kubectl-argocd-eks", &allow_assume(TARGET, false)),
            ("arn:aws:iam::123456789012:policy/guardrails", deny),
        ],
    );
    let mut facts = target(Some(TARGET));
    facts.target_role = Some(self::facts(
        TARGET,
        &target_role_trust(&role(MANAGEMENT), false).to_string(),
        &[],
    ));
    let section = target_checks(&hub, &facts);
    let check = failed(&section, "may sts:AssumeRole the target role");
    assert!(check.detail.contains("\"NoChaining\""), "{check:?}");
    assert!(check.detail.contains("guardrails"), "{check:?}");
}

#[test]
fn pod_identity_chains_need_tag_session_from_the_policy_and_the_target_trust() {
    let pods = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    let hub = pod_identity_hub(
        pods,
        &[("kubectl-argocd-eks", &allow_assume(TARGET, false))],
    );
    let mut facts = target(Some(TARGET));
    // The target trust may condition on the session tags pod identity passes on.
    let tagged = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{MANAGEMENT}"}},
            "Action":["sts:AssumeRole","sts:TagSession"],
            "Condition":{{"StringEquals":{{"aws:PrincipalTag/kubernetes-namespace":"argocd",
                "aws:PrincipalTag/eks-cluster-name":"prod","aws:PrincipalAccount":"123456789012"}}}}}}]}}"#
    );
    facts.target_role = Some(self::facts(TARGET, &tagged, &[]));
    let section = target_checks(&hub, &facts);
    let trust = finding(&section, "the target role trusts the management role");
    assert_eq!(trust.status, Status::Pass, "{trust:?}");
    let permission = failed(&section, "may sts:AssumeRole the target role");
    assert!(
        permission.detail.contains("sts:TagSession"),
        "{permission:?}"
    );
    let fixed = fix_document(permission);
    let request = crate::core::policy::request::Request::role_session(&role(MANAGEMENT), None)
        .with_resource(TARGET)
        .for_action("sts:TagSession");
    assert!(crate::core::policy::evaluate::allows(&fixed, &request).is_allowed());
}

#[test]
fn a_same_account_trust_naming_the_role_needs_no_identity_policy_but_one_naming_the_account_does() {
    let same = "arn:aws:iam::123456789012:role/deployer";
    let hub = irsa_hub(&argocd_docs_trust(), &[]);
    let mut facts = target(Some(same));
    facts.target_role = Some(self::facts(
        same,
        &target_role_trust(&role(MANAGEMENT), false).to_string(),
        &[],
    ));
    let section = target_checks(&hub, &facts);
    assert!(!section.failed(), "{:?}", statuses(&section));
    let root = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    facts.target_role = Some(self::facts(same, root, &[]));
    failed(
        &target_checks(&hub, &facts),
        "may sts:AssumeRole the target role",
    );
}

#[test]
fn the_oidc_provider_is_looked_for_in_the_management_roles_account() {
    // The hub cluster is in 123456789012; the management role, and so IRSA's provider, in another.
    let management = "arn:aws:iam::444455556666:role/argocd";
    let mut hub = with_issuer(hub(Some(management)));
    hub.oidc_providers = Some(vec![oidc_provider_arn("aws", "444455556666", ISSUER)]);
    let section = identity_checks(&hub);
    let check = finding(&section, "is an IAM OIDC provider");
    assert_eq!(check.status, Status::Pass, "{check:?}");
    assert!(check.detail.contains("444455556666"), "{check:?}");
}

#[test]
fn a_fix_is_the_whole_document_policy_create_writes_with_every_statement_kept() {
    let provider = oidc_provider_arn("aws", "123456789012", ISSUER);
    let host = ISSUER.trim_start_matches("https://");
    let theirs = r#"{"Sid":"Theirs","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}"#;
    // Argo CD's statement for another namespace, and no audience check.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{theirs},{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},
            "Action":"sts:AssumeRoleWithWebIdentity",
            "Condition":{{"StringEquals":{{"{host}:sub":"system:serviceaccount:dev:argocd-server"}}}}}}]}}"#
    );
    let mut hub = irsa_hub(&trust, &[]);
    hub.target_roles = vec![role(MANAGEMENT)];
    let section = identity_checks(&hub);
    let web = failed(&section, "web identity");
    let audience = failed(&section, "checks the token audience");
    assert_eq!(web.fix, audience.fix, "one document for one role");
    let self_assume = target_checks(&hub, &target(Some(MANAGEMENT)));
    let self_fix = failed(&self_assume, "it trusts itself");
    assert!(
        self_fix
            .fix
            .as_deref()
            .unwrap()
            .ends_with(web.fix.as_deref().unwrap())
    );

    let fixed = fix_document(web);
    assert_eq!(
        fixed.statements[0],
        doc(&format!(r#"{{"Statement":[{theirs}]}}"#)).statements[0]
    );
    // The statement for namespace dev is kept, now checking the audience.
    let aud = &fixed.statements[1].condition["StringEquals"][&format!("{host}:aud")];
    assert_eq!(aud.0, ["sts.amazonaws.com"]);
    // What `policy --create --role-arn MANAGEMENT` writes from the same trust.
    let sas = super::fixes::policy_service_accounts(&hub);
    let issuer = super::fixes::irsa_provider(&hub, &role(MANAGEMENT)).unwrap();
    let wanted = wanted_roles(
        IdentityMode::Irsa,
        &role(MANAGEMENT),
        &[role(MANAGEMENT)],
        Some(&issuer),
        Some(&cluster().arn),
        &sas,
    );
    let observed = ObservedRole {
        trust: doc(&trust),
        inline: None,
    };
    let plan = plan_role(&wanted[0], Some(&observed), false, &mut Vec::new());
    let Some(IamAction::UpdateTrust { trust: written, .. }) = &plan[0].write else {
        panic!("{plan:?}");
    };
    assert_eq!(written, &fixed);
    // Applied, doctor passes.
    hub.management_role.as_mut().unwrap().trust = Some(fixed);
    assert!(
        !identity_checks(&hub).failed(),
        "{:?}",
        statuses(&identity_checks(&hub))
    );
    assert!(!target_checks(&hub, &target(Some(MANAGEMENT))).failed());
}
