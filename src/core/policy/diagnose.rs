//! Questions doctor asks of a document: which service accounts it trusts, which actions it
//! lacks, which condition keys and operators it uses.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use super::document::{ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, Effect, PolicyDocument};
use super::evaluate::{At, Operator, Outcome, Request, Test, action_matches, evaluate};
use super::generate::issuer_host_path;
use crate::core::model::RoleArn;

/// The `<issuer>:sub` values (or patterns) that Allow statements for web identity accept.
pub(crate) fn irsa_subjects(doc: &PolicyDocument, issuer: &str) -> Vec<String> {
    let key = format!("{}:sub", issuer_host_path(issuer));
    let mut subjects = BTreeSet::new();
    let web_identity = doc
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && action_matches(s, ASSUME_ROLE_WITH_WEB_IDENTITY));
    for statement in web_identity {
        for (name, keys) in &statement.condition {
            let positive = Operator::parse(name).is_some_and(|op| {
                !op.negated && matches!(op.test, Test::Equals | Test::EqualsIgnoreCase | Test::Like)
            });
            let values = keys.iter().filter(|(k, _)| k.eq_ignore_ascii_case(&key));
            for (_, values) in values.filter(|_| positive) {
                subjects.extend(values.iter().map(str::to_owned));
            }
        }
    }
    subjects.into_iter().collect()
}

/// Those of `actions` the policy does not allow for `request`'s principal, resource and context.
#[cfg(test)]
pub(crate) fn missing_actions(
    doc: &PolicyDocument,
    request: &Request,
    actions: &[&str],
) -> Vec<String> {
    actions
        .iter()
        .filter(|action| !super::evaluate::allows(doc, &request.for_action(action)).is_allowed())
        .map(|action| (*action).to_owned())
        .collect()
}

/// Whether any statement has a condition on `key` (compared case-insensitively, as IAM does).
#[cfg(test)]
pub(crate) fn has_condition_key(doc: &PolicyDocument, key: &str) -> bool {
    doc.statements
        .iter()
        .flat_map(|s| s.condition.values())
        .any(|keys| keys.keys().any(|k| k.eq_ignore_ascii_case(key)))
}

/// Condition operators in `doc` this evaluator cannot apply.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "doctor does not yet name the condition operators it cannot apply; the tests use it"
    )
)]
pub(crate) fn unknown_operators(doc: &PolicyDocument) -> Vec<String> {
    let names = doc.statements.iter().flat_map(|s| s.condition.keys());
    let unknown: BTreeSet<&String> = names.filter(|n| Operator::parse(n).is_none()).collect();
    unknown.into_iter().cloned().collect()
}

/// The roles a permission policy lets its holder `sts:AssumeRole`, by exact ARN.
pub(crate) fn assumable_roles(doc: &PolicyDocument) -> BTreeSet<RoleArn> {
    doc.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.principal.is_none())
        .filter(|s| {
            s.action
                .iter()
                .flat_map(|a| a.iter())
                .any(|a| a.eq_ignore_ascii_case(ASSUME_ROLE))
        })
        .flat_map(|s| s.resource.iter().flat_map(|r| r.iter()))
        .filter_map(|r| RoleArn::parse(r).ok())
        .collect()
}

/// What doctor concludes about requests that documents, evaluated together, must all allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    /// Certainly denied: these actions, and the explicit Deny when one decided.
    Denied {
        actions: Vec<String>,
        deny: Option<At>,
    },
    /// What this tool cannot evaluate decides (keys whose values cannot be known, operators).
    CannotTell(Vec<String>),
}

pub(crate) fn verdict<D: Borrow<PolicyDocument>>(docs: &[D], requests: &[Request]) -> Verdict {
    let (mut denied, mut deny, mut unknown) = (BTreeSet::new(), None, BTreeSet::new());
    for request in requests {
        let decision = evaluate(docs, request);
        match decision.outcome {
            Outcome::Allowed => {}
            Outcome::ImplicitDeny => {
                denied.insert(request.action.clone());
            }
            Outcome::ExplicitDeny => {
                denied.insert(request.action.clone());
                deny = deny.or(decision.at);
            }
            Outcome::Unknown => unknown.extend(decision.unknown),
        }
    }
    if !denied.is_empty() {
        Verdict::Denied {
            actions: denied.into_iter().collect(),
            deny,
        }
    } else if !unknown.is_empty() {
        Verdict::CannotTell(unknown.into_iter().collect())
    } else {
        Verdict::Allowed
    }
}
