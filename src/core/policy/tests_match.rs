//! Unit tests of matching a request against a policy: principals, actions, wildcards and
//! condition operators, Deny over Allow, and what a match that cannot hold reports.

use std::collections::BTreeMap;

use super::diagnose::*;
use super::document::*;
use super::evaluate::*;
use super::generate::*;
use super::tests::*;

#[test]
fn irsa_allows_exact_service_accounts_only() {
    let policy = irsa_trust(PROVIDER, ISSUER, &sas());
    assert!(allowed(&policy, &web("argocd", "argocd-server")));
    assert!(
        !allowed(&policy, &web("default", "argocd-server")),
        "wrong namespace"
    );
    assert!(
        !allowed(&policy, &web("argocd", "argocd-repo-server")),
        "unlisted SA"
    );
    assert!(
        !allowed(&policy, &web("argocd", "argocd-*")),
        "StringEquals is literal"
    );
    let aud = format!("{ISSUER}:aud");
    assert!(!allowed(
        &policy,
        &web("argocd", "argocd-server").with_context(&aud, &["x"])
    ));
    let other = RequestPrincipal::Federated(PROVIDER.replace("ABC123", "OTHER"));
    let other = Request {
        principal: other,
        ..web("argocd", "argocd-server")
    };
    assert!(!allowed(&policy, &other), "another cluster's provider");
    let assume = Request {
        action: ASSUME_ROLE.into(),
        ..web("argocd", "argocd-server")
    };
    assert!(!allowed(&policy, &assume));
    let subjects = irsa_subjects(&policy, &format!("https://{ISSUER}"));
    assert_eq!(
        subjects,
        [
            "system:serviceaccount:argocd:argocd-application-controller",
            "system:serviceaccount:argocd:argocd-server"
        ]
    );
}

#[test]
fn missing_aud_still_allows_but_is_detectable() {
    let key = format!("{ISSUER}:sub");
    let mut policy = keyed(
        "StringEquals",
        &key,
        r#""system:serviceaccount:argocd:argocd-server""#,
    );
    policy.statements[0].principal = Some(Principal::of("Federated", PROVIDER));
    policy.statements[0].action = Some(Values::of([ASSUME_ROLE_WITH_WEB_IDENTITY]));
    assert!(allowed(&policy, &web("argocd", "argocd-server")));
    assert!(!has_condition_key(&policy, &format!("{ISSUER}:aud")));
    let generated = irsa_trust(PROVIDER, ISSUER, &sas());
    assert!(has_condition_key(
        &generated,
        &format!("{}:AUD", ISSUER.to_uppercase())
    ));
}

#[test]
fn string_like_namespace_wildcard_allows_any_sa_of_that_namespace() {
    let key = format!("{ISSUER}:sub");
    let mut policy = keyed("StringLike", &key, r#""system:serviceaccount:argocd:*""#);
    policy.statements[0].principal = Some(Principal::of("Federated", PROVIDER));
    policy.statements[0].action = Some(Values::of([ASSUME_ROLE_WITH_WEB_IDENTITY]));
    assert!(allowed(&policy, &web("argocd", "anything")));
    assert!(!allowed(&policy, &web("argocd-dev", "argocd-server")));
    assert_eq!(
        irsa_subjects(&policy, ISSUER),
        ["system:serviceaccount:argocd:*"]
    );
}

#[test]
fn pod_identity_trust_without_tag_session_denies_it() {
    let policy = doc(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#);
    let request = pods("hub", "argocd", "argocd-server");
    assert_eq!(missing_actions(&policy, &request, BOTH), [TAG_SESSION]);
}

#[test]
fn explicit_deny_wins_over_any_allow() {
    let policy = doc(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{MGMT}"}},"Action":"sts:*"}},
            {{"Sid":"NoTags","Effect":"Deny","Principal":"*","Action":"sts:tagsession"}}]}}"#
    ));
    assert_eq!(
        allows(&policy, &aws(ASSUME_ROLE, MGMT)).statement(),
        Some(0)
    );
    let decision = allows(&policy, &aws(TAG_SESSION, MGMT));
    assert_eq!(
        (decision.outcome, decision.statement()),
        (Outcome::ExplicitDeny, Some(1))
    );
    assert!(decision.is_certain());
}

#[test]
fn account_root_and_bare_account_allow_any_principal_of_that_account() {
    for principal in ["arn:aws:iam::111122223333:root", "111122223333"] {
        let policy = PolicyDocument::new(vec![allow(
            Some(Principal::of("AWS", principal)),
            &[ASSUME_ROLE],
        )]);
        assert!(allowed(&policy, &aws(ASSUME_ROLE, MGMT)), "{principal}");
        let session = "arn:aws:sts::111122223333:assumed-role/x/y";
        assert!(allowed(&policy, &aws(ASSUME_ROLE, session)), "{principal}");
        let foreign = "arn:aws:iam::999988887777:role/argocd-management";
        assert!(!allowed(&policy, &aws(ASSUME_ROLE, foreign)), "{principal}");
        let service = RequestPrincipal::Service("111122223333".into());
        assert!(!allowed(&policy, &Request::new(ASSUME_ROLE, service)));
    }
}

#[test]
fn role_principal_matches_its_sessions_not_other_roles() {
    let policy = target_role_trust(&role("arn:aws:iam::111122223333:role/teams/argocd"), false);
    for (caller, ok) in [
        ("arn:aws:iam::111122223333:role/teams/argocd", true),
        (
            "arn:aws:sts::111122223333:assumed-role/argocd/botocore-session-1",
            true,
        ),
        ("arn:aws:sts::111122223333:assumed-role/argocd-2/s", false),
        ("arn:aws:sts::999988887777:assumed-role/argocd/s", false),
        ("arn:aws:iam::111122223333:role/argocd", false),
    ] {
        assert_eq!(allowed(&policy, &aws(ASSUME_ROLE, caller)), ok, "{caller}");
    }
}

#[test]
fn seed_000_policy_allows_neither_pod_identity_nor_web_identity() {
    let wrong = doc(SEED_000);
    let request = pods("hub", "argocd", "argocd-server");
    assert_eq!(missing_actions(&wrong, &request, BOTH), BOTH);
    assert!(!allowed(&wrong, &web("argoCD", "argoCD-controller")));
    assert!(irsa_subjects(&wrong, ISSUER).is_empty());
    // No generator ever writes that principal or condition key.
    let mgmt = role(MGMT);
    for policy in [
        irsa_trust(PROVIDER, ISSUER, &sas()),
        pod_identity_trust(Some(&hub("hub")), &sas()),
        target_role_trust(&mgmt, true),
        management_permissions(std::slice::from_ref(&mgmt), true).unwrap(),
    ] {
        let json = policy.to_string();
        assert!(!json.contains("\"eks.amazonaws.com\"") && !json.contains("awsservice"));
    }
}

#[test]
fn actions_match_with_wildcards_case_insensitively() {
    let policy = doc(&format!(
        r#"{{"Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{MGMT}"}},"Action":["STS:assume?ole","sts:Tag*"]}},
            {{"Effect":"Allow","Principal":{{"AWS":"{MGMT}"}},"NotAction":"sts:*"}}]}}"#
    ));
    assert!(allowed(&policy, &aws("sts:AssumeRole", MGMT)));
    assert!(allowed(&policy, &aws("sts:TagSession", MGMT)));
    assert!(
        allowed(&policy, &aws("eks:DescribeCluster", MGMT)),
        "via NotAction"
    );
    assert!(!allowed(&policy, &aws(ASSUME_ROLE_WITH_WEB_IDENTITY, MGMT)));
    assert!(!allowed(&policy, &aws("sts:AssumeRoles", MGMT)));
}

#[test]
fn glob_and_arn_matching() {
    assert!(glob("a*b?d", "aXXbcd") && glob("*", "") && glob("a**", "a"));
    assert!(!glob("a*b", "ab-") && !glob("a?", "a") && !glob("A", "a"));
    assert!(arn_like(
        "arn:aws:iam::*:role/*",
        "arn:aws:iam::111122223333:role/x/y"
    ));
    assert!(
        !arn_like("arn:aws:*", "arn:aws:iam::1:role/x"),
        "* stays in its field"
    );
    assert!(!arn_like("arn:aws:iam::*:role/x", "arn:aws:iam::1:role/y"));
}

#[test]
fn condition_operators() {
    let cases: &[(&str, &str, Context, bool)] = &[
        // operator, policy values, request context, allowed
        ("StringEquals", r#"["a","b"]"#, &[("K", &["b"])], true), // OR; keys ignore case
        ("StringEquals", r#""a""#, &[("k", &["A"])], false),      // values do not
        ("StringEquals", r#""a""#, &[], false),                   // missing key
        ("StringEqualsIgnoreCase", r#""a""#, &[("k", &["A"])], true),
        ("StringNotEquals", r#""a""#, &[("k", &["b"])], true),
        ("StringNotEquals", r#""a""#, &[("k", &["a"])], false),
        ("StringNotEquals", r#""a""#, &[], true), // negated: a missing key holds
        ("StringLike", r#""a?c*""#, &[("k", &["abcde"])], true),
        ("StringNotLike", r#""a*""#, &[("k", &["abc"])], false),
        ("StringEqualsIfExists", r#""a""#, &[], true),
        ("StringEqualsIfExists", r#""a""#, &[("k", &["b"])], false),
        (
            "ArnLike",
            r#""arn:aws:eks:*:1:cluster/*""#,
            &[("k", &["arn:aws:eks:r:1:cluster/c"])],
            true,
        ),
        (
            "ArnEquals",
            r#""arn:aws:eks:r:1:cluster/c""#,
            &[("k", &["arn:aws:eks:r:2:cluster/c"])],
            false,
        ),
        ("Bool", "true", &[("k", &["true"])], true),
        ("Bool", r#""true""#, &[("k", &["false"])], false),
        ("Null", "true", &[], true),
        ("Null", "false", &[], false),
        (
            "ForAnyValue:StringEquals",
            r#"["a","b"]"#,
            &[("k", &["x", "b"])],
            true,
        ),
        ("ForAnyValue:StringEquals", r#""a""#, &[], false),
        (
            "ForAllValues:StringEquals",
            r#"["a","b"]"#,
            &[("k", &["a", "b"])],
            true,
        ),
        (
            "ForAllValues:StringEquals",
            r#"["a","b"]"#,
            &[("k", &["a", "x"])],
            false,
        ),
        ("ForAllValues:StringEquals", r#""a""#, &[], true), // vacuously
        (
            "forallvalues:stringlikeifexists",
            r#""a*""#,
            &[("k", &["ab"])],
            true,
        ),
    ];
    for (operator, values, context, ok) in cases {
        let decision = allows(&keyed(operator, "k", values), &with(context));
        assert_eq!(
            decision.is_allowed(),
            *ok,
            "{operator} {values} {context:?}"
        );
        assert!(decision.is_certain());
    }
}

#[test]
fn several_keys_and_operators_must_all_hold() {
    let policy = doc(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole",
            "Condition":{"StringEquals":{"a":"1","b":"2"},"StringLike":{"c":"3*"}}}]}"#,
    );
    let all: Context = &[("a", &["1"]), ("b", &["2"]), ("c", &["33"])];
    assert!(allowed(&policy, &with(all)));
    assert!(!allowed(&policy, &with(&all[..2])));
    assert!(!allowed(
        &policy,
        &with(&[("a", &["1"]), ("b", &["9"]), ("c", &["3"])])
    ));
}

#[test]
fn unknown_operators_do_not_match_and_are_reported() {
    let policy = keyed(
        "DateGreaterThan",
        "aws:CurrentTime",
        r#""2020-01-01T00:00:00Z""#,
    );
    let decision = allows(&policy, &with(&[]));
    assert_eq!(decision.outcome, Outcome::Unknown);
    assert_eq!(decision.unknown, ["operator DateGreaterThan"]);
    assert!(!decision.is_certain() && !decision.is_allowed() && !decision.is_denied());
    assert_eq!(unknown_operators(&policy), ["DateGreaterThan"]);
    // A known condition that fails decides on its own.
    let mut both = keyed("StringEquals", "k", r#""a""#);
    let numeric = BTreeMap::from([("n".to_owned(), Values::of(["1"]))]);
    both.statements[0]
        .condition
        .insert("NumericLessThan".into(), numeric);
    assert!(allows(&both, &with(&[("k", &["b"])])).is_certain());
    assert!(!allows(&both, &with(&[("k", &["a"])])).is_certain());
}
