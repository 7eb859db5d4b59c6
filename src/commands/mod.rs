//! One module per command: each observes through the ports, plans with the core, applies.

pub(crate) mod accounts;
pub(crate) mod add;
pub(crate) mod completion;
pub(crate) mod discovery;
pub(crate) mod doctor;
pub(crate) mod list;
pub(crate) mod permissions;
pub(crate) mod policy;
pub(crate) mod registered;
pub(crate) mod remove;
pub(crate) mod targets;

use accounts::Accounts;

/// The ports a command works through.
pub(crate) struct Ports<'a, H, A, P> {
    pub(crate) hub: &'a H,
    pub(crate) accounts: &'a Accounts<A>,
    pub(crate) prompt: &'a P,
}

/// The access review before any write: the `(verb, API group, resource)` pairs of `needed`
/// the caller may not use in `namespace` make the refusal, with `fix`. One rules review
/// answers for all of them; only what it cannot tell (an incomplete review, as with a webhook
/// authorizer such as EKS access policies) is asked with access reviews, all at once.
/// `review`: the namespace's rules review when already read.
pub(crate) async fn require_rbac<'n, H: crate::ports::HubRead>(
    hub: &H,
    namespace: &str,
    needed: impl IntoIterator<Item = (&'n str, &'n str, &'n str)>,
    fix: String,
    review: Option<crate::core::rbac::RulesReview>,
) -> crate::error::Result<()> {
    let rules = match review {
        Some(rules) => rules,
        None => hub.rules_review(namespace).await?,
    };
    let mut denied = Vec::new();
    let mut ask = Vec::new();
    for (verb, group, resource) in needed {
        match rules.allows(verb, group, resource) {
            Some(true) => {}
            Some(false) => denied.push((verb, resource)),
            None => ask.push((verb, group, resource)),
        }
    }
    let answers = futures::future::try_join_all(
        ask.iter()
            .map(|(verb, group, resource)| hub.can_i(namespace, verb, group, resource)),
    )
    .await?;
    for ((verb, _, resource), allowed) in ask.into_iter().zip(answers) {
        if !allowed {
            denied.push((verb, resource));
        }
    }
    if denied.is_empty() {
        return Ok(());
    }
    denied.sort_unstable();
    let denied: Vec<String> = denied
        .into_iter()
        .map(|(verb, resource)| format!("{verb} {resource}"))
        .collect();
    Err(crate::error::Error::denied(
        format!(
            "the hub does not let you {} in namespace {namespace}",
            denied.join(", ")
        ),
        fix,
    ))
}

/// After an apply and a read-back, nothing may be left to write; `left` names what is.
pub(crate) fn nothing_left(left: &[String]) -> crate::error::Result<()> {
    if left.is_empty() {
        return Ok(());
    }
    Err(crate::error::Error::VerifyFailed {
        what: left.join("; "),
        detail: "the read-back differs".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeHub;

    const NEEDED: [(&str, &str, &str); 3] = [
        ("patch", "", "secrets"),
        ("create", "", "secrets"),
        ("patch", "", "serviceaccounts"),
    ];

    async fn review(hub: &FakeHub) -> crate::error::Result<()> {
        require_rbac(hub, "argocd", NEEDED, "ask".into(), None).await
    }

    #[tokio::test]
    async fn one_rules_review_answers_for_every_permission() {
        let hub = FakeHub::with_argocd("argocd");
        review(&hub).await.unwrap();
        assert_eq!(*hub.reviews.borrow(), ["rules review argocd"]);
    }

    #[tokio::test]
    async fn what_a_complete_rules_review_does_not_list_is_refused_without_access_reviews() {
        let hub = FakeHub {
            refused: vec!["create secrets".into(), "patch serviceaccounts".into()],
            ..FakeHub::with_argocd("argocd")
        };
        let error = review(&hub).await.unwrap_err().to_string();
        assert!(
            error.contains(
                "does not let you create secrets, patch serviceaccounts in namespace argocd"
            ),
            "{error}"
        );
        assert_eq!(*hub.reviews.borrow(), ["rules review argocd"]);
    }

    #[tokio::test]
    async fn an_incomplete_rules_review_is_completed_by_access_reviews_of_what_it_left_out() {
        // A webhook (EKS access policies) allows one, RBAC the others; then one is refused.
        let hub = FakeHub {
            webhook_allows: vec!["create secrets".into()],
            ..FakeHub::with_argocd("argocd")
        };
        review(&hub).await.unwrap();
        assert_eq!(
            *hub.reviews.borrow(),
            ["rules review argocd", "access review create secrets"]
        );
        let hub = FakeHub {
            webhook_allows: vec!["create secrets".into()],
            refused: vec!["create secrets".into()],
            ..FakeHub::with_argocd("argocd")
        };
        let error = review(&hub).await.unwrap_err().to_string();
        assert!(
            error.contains("does not let you create secrets in"),
            "{error}"
        );
    }
}
