//! `add`'s roles question against in-memory ports: from an account with no fitting role Enter
//! creates one through `policy --create`'s plan and confirmation and `add` goes on with it;
//! fitting roles are offered marked, others left out; a target role in another account the
//! credentials reach; Esc goes back. (Without a terminal the settings refuse a missing
//! --management-role-arn before anything is read: no role is ever created there.)

use super::tests::add;
use super::tests_checks::{ALL_SAS, hub_and_aws, irsa_trust, pod_identity_trust, put_role};
use crate::core::model::RoleArn;
use crate::error::Error;
use crate::testing::{Answer, FakeAws, FakePrompt, MANAGEMENT, eks_cluster};

const OTHER: &str = "210987654321";
const MANAGEMENT_QUESTION: &str = "Management role (the role Argo CD's pods run as)";
const TARGET_QUESTION: &str = "Target role to assume in the cluster's account (chained mode)";

#[tokio::test]
async fn from_an_account_with_no_role_enter_creates_one_and_add_goes_on() {
    let (hub, accounts) = hub_and_aws();
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![0]),
        Answer::Default, // identity: pod identity, as detected
        Answer::Default, // create a new role
        Answer::Yes,     // policy --create's confirmation
        Answer::Default, // no target role
        Answer::Default, // access policy
        Answer::Yes,     // add's confirmation
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &[], true).await;
    result.unwrap();
    assert_eq!(
        *prompt.asked.borrow(),
        [
            "Which clusters should Argo CD manage?",
            "How do Argo CD's pods get their AWS identity?",
            MANAGEMENT_QUESTION,
            "Apply these changes?",
            TARGET_QUESTION,
            "Access policy for Argo CD on the target (cluster scope)",
            "Apply these changes?",
        ]
    );
    assert_eq!(
        prompt.shown.borrow()[2],
        [
            "create a new role argocd-management in 123456789012 (the plan comes first)",
            "enter a role ARN"
        ]
    );
    // policy --create's own plan, then add's.
    assert!(
        out.contains(
            "  + create    role arn:aws:iam::123456789012:role/argocd-management trust policy"
        ),
        "{out}"
    );
    assert!(out.contains("(identity: pod-identity)"), "{out}");
    assert!(out.contains(", 0 failed, 0 cannot tell"), "{out}");
    let writes = accounts.own().writes.borrow();
    assert_eq!(writes[0], "create role argocd-management", "{writes:?}");
    let associations = accounts.own().associations.borrow();
    assert_eq!(associations.len(), ALL_SAS.len());
    assert!(associations.iter().all(|a| a.role_arn == MANAGEMENT));
}

#[tokio::test]
async fn roles_that_fit_are_offered_with_what_they_allow_and_others_are_not() {
    let (hub, accounts) = hub_and_aws();
    let pods = "arn:aws:iam::123456789012:role/argocd-pods";
    put_role(
        accounts.own(),
        pods,
        &pod_identity_trust(&["sts:AssumeRole", "sts:TagSession"]),
    );
    put_role(
        accounts.own(),
        "arn:aws:iam::123456789012:role/no-tags",
        &pod_identity_trust(&["sts:AssumeRole"]),
    );
    put_role(
        accounts.own(),
        "arn:aws:iam::123456789012:role/argocd-irsa",
        &irsa_trust(&ALL_SAS),
    );
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![0]),
        Answer::Default,
        Answer::Default, // the fitting role
        Answer::Default,
        Answer::Default,
        Answer::Yes,
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &[], true).await;
    result.unwrap();
    assert_eq!(
        prompt.shown.borrow()[2],
        [
            "argocd-pods in 123456789012: allows pod identity (AssumeRole + TagSession)".to_owned(),
            "create a new role argocd-management in 123456789012 (the plan comes first)".to_owned(),
            "enter a role ARN".to_owned(),
        ]
    );
    assert!(out.contains(", 0 failed,"), "{out}");
    let created = accounts
        .own()
        .writes
        .borrow()
        .iter()
        .any(|w| w.starts_with("create role"));
    assert!(!created);
    assert!(
        accounts
            .own()
            .associations
            .borrow()
            .iter()
            .all(|a| a.role_arn == pods)
    );

    // Under IRSA the IRSA role fits, the pod identity ones do not.
    let (hub, accounts) = hub_and_aws();
    put_role(
        accounts.own(),
        pods,
        &pod_identity_trust(&["sts:AssumeRole", "sts:TagSession"]),
    );
    let irsa = "arn:aws:iam::123456789012:role/argocd-irsa";
    put_role(accounts.own(), irsa, &irsa_trust(&ALL_SAS));
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![0]),
        Answer::One(1),
        Answer::Back,
        Answer::Back,
        Answer::Back,
    ]);
    let (result, _) = add(&hub, &accounts, &prompt, &[], true).await;
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert_eq!(
        prompt.shown.borrow()[2][0],
        "argocd-irsa in 123456789012: allows IRSA for application-controller, server, applicationset-controller in argocd"
    );
    assert_eq!(prompt.shown.borrow()[2].len(), 3);
}

#[tokio::test]
async fn esc_goes_back_one_question_and_a_typed_arn_is_used() {
    let (hub, accounts) = hub_and_aws();
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![0]),
        Answer::Default,
        Answer::Back,   // at the management role: back to the identity
        Answer::One(1), // irsa
        Answer::One(1), // "enter a role ARN"
        Answer::Back,   // at the text: back to the menu
        Answer::One(1),
        Answer::Text(MANAGEMENT),
        Answer::Back, // at the target role: back to the management role
        Answer::One(1),
        Answer::Text(MANAGEMENT),
        Answer::Default,
        Answer::Default,
        Answer::No,
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &["--force"], true).await;
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(out.contains("(identity: irsa)"), "{out}");
    let asked = prompt.asked.borrow();
    assert_eq!(
        asked[..5],
        [
            "Which clusters should Argo CD manage?",
            "How do Argo CD's pods get their AWS identity?",
            MANAGEMENT_QUESTION,
            "How do Argo CD's pods get their AWS identity?",
            MANAGEMENT_QUESTION,
        ]
    );
    assert_eq!(asked[5], "Role ARN");
    assert_eq!(asked[8], TARGET_QUESTION);
    assert_eq!(asked[9], MANAGEMENT_QUESTION);
    assert!(accounts.own().writes.borrow().is_empty());
}

#[tokio::test]
async fn a_target_role_is_created_in_the_other_account_the_credentials_reach() {
    let (hub, mut accounts) = hub_and_aws();
    put_role(
        accounts.own(),
        MANAGEMENT,
        &pod_identity_trust(&["sts:AssumeRole", "sts:TagSession"]),
    );
    let other = FakeAws::in_account(OTHER, vec![eks_cluster(OTHER, "eu-west-1", "team-b")]);
    let reach = RoleArn::parse(&format!("arn:aws:iam::{OTHER}:role/reader")).unwrap();
    accounts.assume(&reach, other);
    let prompt = FakePrompt::answering(&[
        Answer::Pick(vec![2]), // team-b, in the other account
        Answer::Default,
        Answer::Default, // the management role that fits
        Answer::One(1),  // create a new role argocd-deployer in account OTHER
        Answer::Yes,     // policy --create's confirmation
        Answer::Default,
        Answer::Yes,
    ]);
    let (result, out) = add(&hub, &accounts, &prompt, &[], true).await;
    result.unwrap();
    let menu = &prompt.shown.borrow()[3];
    assert_eq!(
        menu[1],
        format!("create a new role argocd-deployer in {OTHER} (the plan comes first)")
    );
    let (_, target) = accounts.iter().enumerate().nth(1).unwrap();
    assert!(
        target
            .writes
            .borrow()
            .contains(&"create role argocd-deployer".to_owned()),
        "{out}"
    );
    // The management role may now assume it: policy --create's inline policy.
    assert!(
        accounts
            .own()
            .writes
            .borrow()
            .iter()
            .any(|w| w == "put policy kubectl-argocd-eks on argocd-management"),
        "{:?}",
        accounts.own().writes.borrow()
    );
    let secrets = hub.secrets.borrow();
    assert!(
        secrets[0].data["config"].contains("arn:aws:iam::210987654321:role/argocd-deployer"),
        "{:?}",
        secrets[0].data
    );
}
