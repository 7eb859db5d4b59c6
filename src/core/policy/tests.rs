//! Unit tests of the policy documents: generation and parsing (the fixtures here serve
//! tests_match.rs too).

use super::diagnose::*;
use super::document::*;
use super::evaluate::*;
use super::generate::*;
use crate::core::model::{ClusterArn, RoleArn, SaRef};

pub(super) const ISSUER: &str = "oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
pub(super) const PROVIDER: &str =
    "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
pub(super) const MGMT: &str = "arn:aws:iam::111122223333:role/argocd-management";
/// Seed 000's trust policy: neither its principal nor its condition key exists for IRSA.
pub(super) const SEED_000: &str = r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Principal": { "Service": "eks.amazonaws.com" }, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": { "StringLike": { "eks:awsserviceaccount.name": "argoCD:argoCD-controller" } } } ] }"#;
pub(super) const BOTH: &[&str] = &[ASSUME_ROLE, TAG_SESSION];

pub(super) type Context<'a> = &'a [(&'a str, &'a [&'a str])];

pub(super) fn sa(namespace: &str, name: &str) -> SaRef {
    SaRef::new(namespace, name)
}

pub(super) fn sas() -> Vec<SaRef> {
    vec![
        sa("argocd", "argocd-server"),
        sa("argocd", "argocd-application-controller"),
    ]
}

pub(super) fn role(text: &str) -> RoleArn {
    RoleArn::parse(text).unwrap()
}

pub(super) fn hub(name: &str) -> ClusterArn {
    ClusterArn::new("aws", "eu-west-1", "111122223333", name)
}

pub(super) fn web(namespace: &str, name: &str) -> Request {
    Request::web_identity(PROVIDER, ISSUER, &sa(namespace, name))
}

pub(super) fn aws(action: &str, arn: &str) -> Request {
    Request::new(action, RequestPrincipal::Aws(arn.into()))
}

pub(super) fn pods(cluster: &str, namespace: &str, name: &str) -> Request {
    Request::pod_identity(Some(&hub(cluster)), &sa(namespace, name))
}

pub(super) fn doc(json: &str) -> PolicyDocument {
    parse_policy(json).unwrap()
}

pub(super) fn allowed(doc: &PolicyDocument, request: &Request) -> bool {
    allows(doc, request).is_allowed()
}

/// One statement allowing sts:AssumeRole to anyone under `{operator: {key: values}}`.
pub(super) fn keyed(operator: &str, key: &str, values: &str) -> PolicyDocument {
    doc(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole",
            "Condition":{{"{operator}":{{"{key}":{values}}}}}}}]}}"#
    ))
}

/// A request carrying exactly `context`: every other key is absent.
pub(super) fn with(context: Context) -> Request {
    let request = aws(ASSUME_ROLE, MGMT).with_complete("");
    context
        .iter()
        .fold(request, |r, (k, v)| r.with_context(k, v))
}

#[test]
pub(super) fn irsa_trust_exact_json_round_trips() {
    let issuer_url = format!("https://{ISSUER}/");
    assert_eq!(
        oidc_provider_arn("aws", "111122223333", &issuer_url),
        PROVIDER
    );
    let policy = irsa_trust(PROVIDER, &issuer_url, &sas());
    let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.eks.eu-west-1.amazonaws.com/id/ABC123:aud":"sts.amazonaws.com","oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub":["system:serviceaccount:argocd:argocd-application-controller","system:serviceaccount:argocd:argocd-server"]}}}]}"#;
    assert_eq!(policy.to_string(), json);
    assert_eq!(doc(json), policy);
    assert!(format!("{policy:#}").contains("\n  \"Statement\": ["));
}

#[test]
pub(super) fn pod_identity_trust_exact_json_round_trips() {
    let plain = pod_identity_trust(None, &[]);
    let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    assert_eq!((plain.to_string(), doc(json)), (json.to_owned(), plain));
    let scoped = pod_identity_trust(Some(&hub("hub")), &sas());
    let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/eks-cluster-arn":"arn:aws:eks:eu-west-1:111122223333:cluster/hub","aws:RequestTag/kubernetes-namespace":"argocd","aws:RequestTag/kubernetes-service-account":["argocd-application-controller","argocd-server"]}}}]}"#;
    assert_eq!((scoped.to_string(), doc(json)), (json.to_owned(), scoped));
}

#[test]
pub(super) fn scoped_pod_identity_trust_allows_only_its_hub_and_service_accounts() {
    let policy = pod_identity_trust(Some(&hub("hub")), &[sa("argocd", "argocd-server")]);
    let ok = pods("hub", "argocd", "argocd-server");
    assert!(missing_actions(&policy, &ok, BOTH).is_empty());
    for request in [
        pods("dev", "argocd", "argocd-server"),
        pods("hub", "default", "argocd-server"),
        pods("hub", "argocd", "argocd-repo-server"),
        Request::new(ASSUME_ROLE, ok.principal.clone()), // session tags disabled
    ] {
        assert!(!allowed(&policy, &request), "{request:?}");
    }
    // Two namespaces give one exact statement each, not a cross product.
    let two = pod_identity_trust(None, &[sa("a", "x"), sa("b", "y")]);
    assert_eq!(two.statements.len(), 2);
    assert!(allowed(&two, &pods("hub", "b", "y")) && !allowed(&two, &pods("hub", "a", "y")));
}

#[test]
pub(super) fn target_trust_and_permissions_are_exact() {
    let mgmt = role(MGMT);
    let trust = target_role_trust(&mgmt, false);
    let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/argocd-management"},"Action":"sts:AssumeRole"}]}"#;
    assert_eq!(
        (trust.to_string(), doc(json)),
        (json.to_owned(), trust.clone())
    );
    assert_eq!(missing_actions(&trust, &aws("", MGMT), BOTH), [TAG_SESSION]);
    let tagged = target_role_trust(&mgmt, true);
    assert_eq!(doc(&tagged.to_string()), tagged);
    assert!(missing_actions(&tagged, &aws("", MGMT), BOTH).is_empty());

    assert_eq!(management_permissions(&[], true), None);
    let (a, b) = (
        role("arn:aws:iam::222233334444:role/a"),
        role("arn:aws:iam::222233334444:role/b"),
    );
    let perms = management_permissions(&[b.clone(), a, b], true).unwrap();
    let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":["arn:aws:iam::222233334444:role/a","arn:aws:iam::222233334444:role/b"]}]}"#;
    assert_eq!(
        (perms.to_string(), doc(json)),
        (json.to_owned(), perms.clone())
    );
    let to_a = aws("", MGMT).with_resource("arn:aws:iam::222233334444:role/a");
    assert!(missing_actions(&perms, &to_a, BOTH).is_empty());
    let to_admin = aws(ASSUME_ROLE, MGMT).with_resource("arn:aws:iam::222233334444:role/admin");
    assert_eq!(allows(&perms, &to_admin).outcome, Outcome::ImplicitDeny);
}

#[test]
pub(super) fn self_assume_statement_lets_the_role_assume_itself() {
    let mgmt = role(MGMT);
    let mut policy = irsa_trust(PROVIDER, ISSUER, &sas());
    let itself = aws(
        ASSUME_ROLE,
        "arn:aws:sts::111122223333:assumed-role/argocd-management/s",
    );
    assert!(!allowed(&policy, &itself));
    assert!(policy.add_statement(self_assume_statement(&mgmt, false)));
    assert!(!policy.add_statement(self_assume_statement(&mgmt, false)));
    assert_eq!(allows(&policy, &itself).statement(), Some(1));
    assert_eq!(
        policy.statements[1].sid.as_deref(),
        Some("ArgoCdSelfAssume")
    );
    let tagged = PolicyDocument::new(vec![self_assume_statement(&mgmt, true)]);
    assert!(missing_actions(&tagged, &itself, BOTH).is_empty());
}

#[test]
pub(super) fn parses_the_url_encoded_form_get_role_returns() {
    let encoded = "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%7B%0A%20%20%20%20%22Effect%22%3A%20%22Allow%22%2C%0A%20%20%20%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22pods.eks.amazonaws.com%22%7D%2C%0A%20%20%20%20%22Action%22%3A%20%5B%22sts%3AAssumeRole%22%2C%20%22sts%3ATagSession%22%5D%0A%20%20%7D%0A%7D";
    assert_eq!(parse_policy(encoded), Ok(pod_identity_trust(None, &[])));
    assert_eq!(parse_policy("%7B%ff%7D"), Err(PolicyError::Encoding));
}

#[test]
pub(super) fn single_and_array_forms_are_the_same_policy() {
    let single = doc(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#);
    let arrays = doc(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"AWS":["111122223333"]},"Action":["sts:AssumeRole"]}]}"#);
    assert_eq!(single, arrays);
    assert_eq!(single.to_string(), arrays.to_string());
}

#[test]
pub(super) fn parses_star_principal_bool_values_and_missing_version() {
    let policy = doc(
        r#"{"Statement":[{"Sid":"x","Effect":"Deny","Principal":"*","NotAction":"sts:*",
            "Condition":{"Bool":{"aws:SecureTransport":false}}}]}"#,
    );
    assert_eq!(policy.version, "2008-10-17");
    assert_eq!(policy.statements[0].principal, Some(Principal::Any));
    let keys = &policy.statements[0].condition["Bool"];
    assert_eq!(keys["aws:SecureTransport"], Values::of(["false"]));
    assert!(policy.to_string().contains(r#""Principal":"*""#));
    for bad in [
        "",
        "{}",
        r#"{"Statement":[{"Effect":"Maybe","Action":"sts:AssumeRole"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"someone","Action":"x"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Action":{"a":1}}]}"#,
    ] {
        assert!(
            matches!(parse_policy(bad), Err(PolicyError::Invalid(_))),
            "{bad}"
        );
    }
}
