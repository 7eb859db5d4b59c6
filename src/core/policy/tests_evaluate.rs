//! Unit tests of evaluation as AWS does it: the global condition keys and session tags a
//! request carries, keys whose values cannot be known, Deny across policies, account grants;
//! and of repairing a document without losing a statement.

use super::document::*;
use super::evaluate::*;
use super::generate::*;
use super::repair::*;
use crate::core::model::{ClusterArn, RoleArn, SaRef};

const MGMT: &str = "arn:aws:iam::111122223333:role/argocd-management";

fn doc(json: &str) -> PolicyDocument {
    parse_policy(json).unwrap()
}

fn role(text: &str) -> RoleArn {
    RoleArn::parse(text).unwrap()
}

fn hub() -> ClusterArn {
    ClusterArn::new("aws", "eu-west-1", "111122223333", "hub")
}

fn sa() -> SaRef {
    SaRef::new("argocd", "argocd-server")
}

/// One statement allowing sts:AssumeRole to anyone under `{operator: {key: value}}`.
fn keyed(operator: &str, key: &str, value: &str) -> PolicyDocument {
    doc(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole",
            "Condition":{{"{operator}":{{"{key}":{value}}}}}}}]}}"#
    ))
}

#[test]
fn argo_cds_documented_self_assume_statement_lets_only_the_role_itself_in() {
    let policy = doc(&format!(
        r#"{{"Statement":[{{"Sid":"ExplicitSelfRoleAssumption","Effect":"Allow","Principal":{{"AWS":"*"}},
            "Action":"sts:AssumeRole","Condition":{{"ArnLike":{{"aws:PrincipalArn":"{MGMT}"}}}}}}]}}"#
    ));
    let itself = allows(&policy, &Request::role_session(&role(MGMT), None));
    assert!(itself.is_allowed() && !itself.via_account, "{itself:?}");
    let other = Request::role_session(&role("arn:aws:iam::111122223333:role/other"), None);
    assert!(allows(&policy, &other).is_denied());
}

#[test]
fn requests_carry_the_global_keys_aws_sets() {
    let session = Request::role_session(&role("arn:aws:iam::111122223333:role/teams/argocd"), None);
    for (operator, key, value) in [
        ("StringEquals", "aws:PrincipalAccount", "111122223333"),
        ("StringEquals", "aws:PrincipalType", "AssumedRole"),
        // The role's ARN with its path, never the session's.
        (
            "ArnEquals",
            "aws:principalarn",
            "arn:aws:iam::111122223333:role/teams/argocd",
        ),
        ("Bool", "aws:PrincipalIsAWSService", "false"),
    ] {
        let policy = keyed(operator, key, &format!("{value:?}"));
        assert!(allows(&policy, &session).is_allowed(), "{key}");
        let policy = keyed(operator, key, r#""something-else""#);
        assert!(allows(&policy, &session).is_denied(), "{key}");
    }
    // Argo CD passes no external id: a trust that wants one never lets it in.
    let external = keyed("StringEquals", "sts:ExternalId", r#""x""#);
    assert!(allows(&external, &session).is_denied());
    // Pod identity's session tags: in its request, and on the chained session after it.
    let pods = Request::pod_identity(Some(&hub()), &sa());
    for (key, value) in [
        (
            "aws:RequestTag/eks-cluster-arn",
            "arn:aws:eks:eu-west-1:111122223333:cluster/hub",
        ),
        ("aws:RequestTag/eks-cluster-name", "hub"),
        ("aws:RequestTag/kubernetes-namespace", "argocd"),
        ("aws:RequestTag/kubernetes-service-account", "argocd-server"),
        ("aws:PrincipalServiceName", "pods.eks.amazonaws.com"),
    ] {
        assert!(
            allows(&keyed("StringEquals", key, &format!("{value:?}")), &pods).is_allowed(),
            "{key}"
        );
    }
    let keys = keyed(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["eks-cluster-arn","eks-cluster-name","kubernetes-namespace","kubernetes-service-account","kubernetes-pod-name","kubernetes-pod-uid"]"#,
    );
    assert!(allows(&keys, &pods).is_allowed());
    // A tag pod identity does not set is absent, not unknown.
    assert!(
        allows(
            &keyed("StringEquals", "aws:RequestTag/team", r#""a""#),
            &pods
        )
        .is_denied()
    );
    let chained = Request::role_session(&role(MGMT), Some((Some(&hub()), &sa())));
    let tag = keyed(
        "StringEquals",
        "aws:PrincipalTag/kubernetes-namespace",
        r#""argocd""#,
    );
    assert!(allows(&tag, &chained).is_allowed());
    let other = keyed(
        "StringEquals",
        "aws:PrincipalTag/kubernetes-namespace",
        r#""dev""#,
    );
    assert!(allows(&other, &chained).is_denied());
}

#[test]
fn a_condition_on_a_key_whose_value_cannot_be_known_is_cannot_tell() {
    for (key, request) in [
        (
            "aws:RequestTag/kubernetes-pod-name",
            Request::pod_identity(Some(&hub()), &sa()),
        ),
        (
            "aws:RequestTag/kubernetes-pod-uid",
            Request::pod_identity(Some(&hub()), &sa()),
        ),
        // The hub's cluster is not known: neither is the tag naming it.
        (
            "aws:RequestTag/eks-cluster-arn",
            Request::pod_identity(None, &sa()),
        ),
        ("aws:SourceIp", Request::role_session(&role(MGMT), None)),
        (
            "aws:PrincipalOrgID",
            Request::role_session(&role(MGMT), None),
        ),
        // The role's own IAM tags are not read.
        (
            "aws:PrincipalTag/team",
            Request::role_session(&role(MGMT), None),
        ),
    ] {
        let allow = keyed("StringLike", key, r#""x*""#);
        let decision = allows(&allow, &request);
        assert_eq!(decision.outcome, Outcome::Unknown, "{key}");
        assert!(!decision.is_allowed() && !decision.is_denied(), "{key}");
        assert!(
            decision.unknown.iter().any(|u| u.contains(key)),
            "{decision:?}"
        );
        // A Deny that may apply makes an Allow uncertain too.
        let mut both =
            doc(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:*"}]}"#);
        let mut deny = allow.statements[0].clone();
        deny.effect = Effect::Deny;
        both.statements.push(deny);
        assert_eq!(allows(&both, &request).outcome, Outcome::Unknown, "{key}");
    }
}

#[test]
fn an_explicit_deny_in_one_policy_wins_over_an_allow_in_another() {
    let allow = management_permissions(&[role(MGMT)], false).unwrap();
    let deny = doc(
        r#"{"Statement":[{"Sid":"NoChaining","Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    );
    let request = Request::role_session(&role(MGMT), None).with_resource(MGMT);
    assert!(evaluate(&[&allow], &request).is_allowed());
    let decision = evaluate(&[&allow, &deny], &request);
    assert_eq!(decision.outcome, Outcome::ExplicitDeny);
    assert_eq!(
        decision.at,
        Some(At {
            document: 1,
            statement: 0
        })
    );
}

#[test]
fn an_account_principal_grants_through_the_account() {
    let root = doc(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#,
    );
    let session = Request::role_session(&role(MGMT), None);
    let decision = allows(&root, &session);
    assert!(decision.is_allowed() && decision.via_account);
    let direct = target_role_trust(&role(MGMT), false);
    assert!(!allows(&direct, &session).via_account);
}

#[test]
fn a_repaired_trust_keeps_every_statement_and_adds_only_what_is_missing() {
    let theirs = r#"{"Sid":"Theirs","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}"#;
    let existing = doc(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{theirs},
            {{"Effect":"Allow","Principal":{{"AWS":"{MGMT}"}},"Action":"sts:AssumeRole"}}]}}"#
    ));
    let needs = target_trust_needs(&role(MGMT), Some(&hub()), &[sa()], true);
    let repaired = repair_trust(&existing, &needs);
    // The statement that lets the role in gains sts:TagSession; nothing is added or removed.
    assert_eq!(repaired.statements.len(), 2, "{repaired:#}");
    assert_eq!(repaired.statements[0], existing.statements[0]);
    assert_eq!(
        repaired.statements[1].action,
        Some(Values::of([ASSUME_ROLE, TAG_SESSION]))
    );
    assert_eq!(
        repair_trust(&repaired, &needs),
        repaired,
        "a second repair changes nothing"
    );
    // A trust that allows none of it gets the wanted statement.
    let foreign = doc(&format!(r#"{{"Statement":[{theirs}]}}"#));
    let added = repair_trust(&foreign, &needs);
    assert_eq!(added.statements.len(), 2);
    assert_eq!(
        added.statements[1],
        target_role_trust(&role(MGMT), true).statements[0]
    );
    // An explicit Deny is not worked around.
    let denied = doc(r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:*"}]}"#);
    assert_eq!(repair_trust(&denied, &needs), denied);
}

#[test]
fn a_repaired_inline_policy_keeps_foreign_statements_and_the_roles_it_had() {
    let old = role("arn:aws:iam::444455556666:role/old");
    let existing = doc(&format!(
        r#"{{"Statement":[{{"Sid":"Theirs","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}},
            {{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{old}"}}]}}"#
    ));
    let wanted = [role(MGMT)].into_iter().collect();
    let (repaired, kept) = repair_permissions(&existing, &wanted, true);
    assert_eq!(kept, [old.clone()].into_iter().collect());
    assert_eq!(repaired.statements[0], existing.statements[0]);
    let request = Request::role_session(&role(MGMT), None).for_action(TAG_SESSION);
    for target in [MGMT, &old.to_string()] {
        assert!(
            allows(&repaired, &request.clone().with_resource(target)).is_allowed(),
            "{target}"
        );
    }
}
