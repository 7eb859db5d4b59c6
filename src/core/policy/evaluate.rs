//! IAM's evaluation of policies for one request: an explicit Deny in any of them wins, else an
//! Allow, else an implicit deny; a condition this tool cannot evaluate makes it "cannot tell".
//! Principals, actions, resources and condition operators are matched as IAM matches them.

use std::borrow::Borrow;

use super::document::{Effect, PolicyDocument, Principal, Statement, Values};
pub(crate) use super::request::{Request, RequestPrincipal};

pub(super) use super::conditions::{Operator, Test, arn_like, glob};
use super::conditions::{Truth, conditions_hold};

impl Principal {
    fn matches(&self, who: &RequestPrincipal) -> Match {
        match self {
            Principal::Any => Match::Direct,
            Principal::Of(kinds) => kinds
                .iter()
                .flat_map(|(kind, values)| {
                    values.iter().map(move |v| principal_matches(kind, v, who))
                })
                .max()
                .unwrap_or(Match::No),
        }
    }
}

/// How a statement's principal names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    No,
    /// Through its account (`arn:aws:iam::<acct>:root` or a bare account id).
    Account,
    /// By its own ARN (or its role's), or `*`.
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
    /// A statement that could decide depends on what this tool cannot know ("cannot tell").
    Unknown,
}

/// A statement: which document (of those evaluated together) and which statement in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    pub(crate) document: usize,
    pub(crate) statement: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) outcome: Outcome,
    /// The statement that decided: the Deny, or the Allow; none for an implicit deny.
    pub(crate) at: Option<At>,
    /// The Allow names the caller only through its account (`:root`, an account id): then the
    /// caller's own policies must allow the action too.
    pub(crate) via_account: bool,
    /// What could not be evaluated (operators, keys whose values cannot be known) in
    /// statements that could change the outcome.
    pub(crate) unknown: Vec<String>,
}

impl Decision {
    /// Certainly allowed.
    pub(crate) fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// Certainly denied (explicitly, or with nothing that might allow it).
    #[cfg(test)]
    pub(crate) fn is_denied(&self) -> bool {
        matches!(self.outcome, Outcome::ExplicitDeny | Outcome::ImplicitDeny)
    }

    /// False when something this tool cannot evaluate might change the outcome.
    #[cfg(test)]
    pub(crate) fn is_certain(&self) -> bool {
        self.outcome != Outcome::Unknown
    }

    /// Index of the deciding statement, in a one-document evaluation.
    pub(crate) fn statement(&self) -> Option<usize> {
        self.at.map(|at| at.statement)
    }
}

/// Evaluates one policy as IAM does: an explicit Deny wins, else any matching Allow, else deny.
pub(crate) fn allows(doc: &PolicyDocument, request: &Request) -> Decision {
    evaluate(std::slice::from_ref(doc), request)
}

/// Evaluates the policies of one principal (or one resource) together, as IAM does: an explicit
/// Deny in any of them wins over an Allow in another; else any Allow; else an implicit deny.
pub(crate) fn evaluate<D: Borrow<PolicyDocument>>(docs: &[D], request: &Request) -> Decision {
    let mut allowed: Option<(At, bool)> = None;
    let (mut maybe_allow, mut maybe_deny) = (Vec::new(), Vec::new());
    for (document, doc) in docs.iter().enumerate() {
        for (statement, s) in doc.borrow().statements.iter().enumerate() {
            let Some(via_account) = applies(s, request) else {
                continue;
            };
            let at = At {
                document,
                statement,
            };
            match (conditions_hold(&s.condition, request), s.effect) {
                (Truth::False, _) => {}
                (Truth::True, Effect::Deny) => {
                    return Decision {
                        outcome: Outcome::ExplicitDeny,
                        at: Some(at),
                        via_account: false,
                        unknown: Vec::new(),
                    };
                }
                (Truth::Unknown(why), Effect::Deny) => maybe_deny.extend(why),
                (Truth::True, Effect::Allow) => {
                    // A direct grant decides over one through the account.
                    if allowed.is_none_or(|(_, account)| account && !via_account) {
                        allowed = Some((at, via_account));
                    }
                }
                (Truth::Unknown(why), Effect::Allow) => maybe_allow.extend(why),
            }
        }
    }
    let sorted = |mut items: Vec<String>| {
        items.sort();
        items.dedup();
        items
    };
    let (outcome, unknown) = match (&allowed, maybe_allow.is_empty()) {
        (Some(_), _) if maybe_deny.is_empty() => (Outcome::Allowed, Vec::new()),
        (Some(_), _) => (Outcome::Unknown, sorted(maybe_deny)),
        (None, true) => (Outcome::ImplicitDeny, Vec::new()),
        (None, false) => (Outcome::Unknown, sorted([maybe_allow, maybe_deny].concat())),
    };
    Decision {
        outcome,
        at: allowed.map(|(at, _)| at),
        via_account: allowed.is_some_and(|(_, account)| account),
        unknown,
    }
}

/// Whether the statement is about this request (principal, action, resource): `Some(true)` when
/// its principal names the caller only through its account.
fn applies(statement: &Statement, request: &Request) -> Option<bool> {
    let principal = match (&statement.principal, &statement.not_principal) {
        (Some(principal), _) => principal.matches(&request.principal),
        (None, Some(excluded)) => match excluded.matches(&request.principal) {
            Match::No => Match::Direct,
            _ => Match::No,
        },
        (None, None) => Match::Direct, // identity policies have no Principal
    };
    let resource = match (
        &request.resource,
        &statement.resource,
        &statement.not_resource,
    ) {
        (Some(arn), Some(patterns), _) => patterns.iter().any(|p| arn_like(p, arn)),
        (Some(arn), None, Some(patterns)) => !patterns.iter().any(|p| arn_like(p, arn)),
        _ => true,
    };
    (principal != Match::No && resource && action_matches(statement, &request.action))
        .then_some(principal == Match::Account)
}

pub(super) fn action_matches(statement: &Statement, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    let listed = |values: &Values| {
        values
            .iter()
            .any(|pattern| glob(&pattern.to_ascii_lowercase(), &action))
    };
    match (&statement.action, &statement.not_action) {
        (Some(actions), _) => listed(actions),
        (None, Some(excluded)) => !listed(excluded),
        (None, None) => false,
    }
}

fn principal_matches(kind: &str, value: &str, who: &RequestPrincipal) -> Match {
    let direct = |matched: bool| if matched { Match::Direct } else { Match::No };
    match (kind, who) {
        ("AWS", _) if value == "*" => Match::Direct, // the same as `"Principal": "*"`
        ("AWS", RequestPrincipal::Aws(arn)) => aws_principal_matches(value, arn),
        ("Service", RequestPrincipal::Service(name)) => direct(value == name),
        ("Federated", RequestPrincipal::Federated(arn)) => direct(value == arn),
        _ => Match::No,
    }
}

/// `[partition, service, region, account, resource]` of an ARN.
pub(super) fn arn_fields(arn: &str) -> Option<[&str; 5]> {
    match arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, service, region, account, resource] => {
            Some([partition, service, region, account, resource])
        }
        _ => None,
    }
}

fn aws_principal_matches(value: &str, caller: &str) -> Match {
    let Some([partition, service, _, account, resource]) = arn_fields(caller) else {
        return Match::No;
    };
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        // A bare account id means the account's root.
        return if value == account {
            Match::Account
        } else {
            Match::No
        };
    }
    let Some([p_partition, p_service, _, p_account, p_resource]) = arn_fields(value) else {
        return Match::No;
    };
    let same_account = p_partition == partition && p_account == account && p_service == "iam";
    if same_account && p_resource == "root" {
        return Match::Account; // any principal of that account (its own policies decide the rest)
    }
    if value == caller {
        return Match::Direct;
    }
    // A role's sessions (role chaining) match the role; session ARNs carry the name, not the path.
    match (
        p_resource.strip_prefix("role/"),
        resource.strip_prefix("assumed-role/"),
    ) {
        (Some(role_path), Some(session))
            if same_account
                && service == "sts"
                && role_path.rsplit('/').next() == session.split('/').next() =>
        {
            Match::Direct
        }
        _ => Match::No,
    }
}
