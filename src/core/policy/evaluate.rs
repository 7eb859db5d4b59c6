//! IAM's evaluation of one policy for one request: explicit deny, allow, implicit deny, with
//! principals, actions, resources and condition operators matched as IAM matches them.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{
    ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, Conditions, Effect, POD_IDENTITY_SERVICE,
    PolicyDocument, Principal, STS_AUDIENCE, Statement, Values,
};
use super::generate::{issuer_host_path, service_account_subject, tag};
use crate::core::model::{ClusterArn, SaRef};

impl Principal {
    pub(super) fn matches(&self, who: &RequestPrincipal) -> bool {
        match self {
            Principal::Any => true,
            Principal::Of(kinds) => kinds
                .iter()
                .any(|(kind, values)| values.iter().any(|v| principal_matches(kind, v, who))),
        }
    }
}

/// Who asks, as IAM sees the caller of an STS action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestPrincipal {
    /// A role, user, or `arn:aws:sts::<acct>:assumed-role/<name>/<session>`.
    Aws(String),
    Service(String),
    /// An IAM OIDC provider ARN.
    Federated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) action: String,
    pub(crate) principal: RequestPrincipal,
    /// Checked against `Resource` only when set (trust policies have none).
    pub(crate) resource: Option<String>,
    /// Condition keys as the request carries them.
    pub(crate) context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub(crate) fn new(action: &str, principal: RequestPrincipal) -> Self {
        Request {
            action: action.to_owned(),
            principal,
            resource: None,
            context: BTreeMap::new(),
        }
    }

    pub(crate) fn with_context(mut self, key: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.context.insert(key.to_owned(), values);
        self
    }

    pub(crate) fn with_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// What STS evaluates when `sa`'s pod exchanges its projected token (IRSA).
    pub(crate) fn web_identity(oidc_provider_arn: &str, issuer: &str, sa: &SaRef) -> Self {
        let issuer = issuer_host_path(issuer);
        let principal = RequestPrincipal::Federated(oidc_provider_arn.to_owned());
        Request::new(ASSUME_ROLE_WITH_WEB_IDENTITY, principal)
            .with_context(&format!("{issuer}:sub"), &[&service_account_subject(sa)])
            .with_context(&format!("{issuer}:aud"), &[STS_AUDIENCE])
    }

    /// What STS evaluates when EKS Pod Identity assumes a role for `sa` on `hub` (session tags on).
    pub(crate) fn pod_identity(hub: &ClusterArn, sa: &SaRef) -> Self {
        let principal = RequestPrincipal::Service(POD_IDENTITY_SERVICE.to_owned());
        Request::new(ASSUME_ROLE, principal)
            .with_context(&tag("eks-cluster-arn"), &[&hub.to_string()])
            .with_context(&tag("eks-cluster-name"), &[&hub.name])
            .with_context(&tag("kubernetes-namespace"), &[&sa.namespace])
            .with_context(&tag("kubernetes-service-account"), &[&sa.name])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) outcome: Outcome,
    /// Index of the statement that decided (none for an implicit deny).
    pub(crate) statement: Option<usize>,
    /// Operators this evaluator does not know, in statements that could have changed the outcome.
    pub(crate) unknown_operators: Vec<String>,
}

impl Decision {
    pub(crate) fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// False when an unknown operator might have changed the outcome ("cannot tell").
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "doctor does not yet report a decision that unknown operators could change as cannot-tell; the evaluator's tests use it"
        )
    )]
    pub(crate) fn is_certain(&self) -> bool {
        self.outcome == Outcome::ExplicitDeny || self.unknown_operators.is_empty()
    }
}

/// Evaluates one policy as IAM does: an explicit Deny wins, else any matching Allow, else deny.
pub(crate) fn allows(doc: &PolicyDocument, request: &Request) -> Decision {
    let mut allowed = None;
    let mut unknown = BTreeSet::new();
    for (index, statement) in doc.statements.iter().enumerate() {
        if !applies(statement, request) {
            continue;
        }
        match conditions_hold(&statement.condition, &request.context) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(operators) => {
                unknown.extend(operators);
                continue;
            }
        }
        if statement.effect == Effect::Deny {
            return Decision {
                outcome: Outcome::ExplicitDeny,
                statement: Some(index),
                unknown_operators: unknown.into_iter().collect(),
            };
        }
        allowed.get_or_insert(index);
    }
    Decision {
        outcome: match allowed {
            Some(_) => Outcome::Allowed,
            None => Outcome::ImplicitDeny,
        },
        statement: allowed,
        unknown_operators: unknown.into_iter().collect(),
    }
}

pub(super) fn applies(statement: &Statement, request: &Request) -> bool {
    let principal = match (&statement.principal, &statement.not_principal) {
        (Some(principal), _) => principal.matches(&request.principal),
        (None, Some(excluded)) => !excluded.matches(&request.principal),
        (None, None) => true, // identity policies have no Principal
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
    principal && resource && action_matches(statement, &request.action)
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

pub(super) fn principal_matches(kind: &str, value: &str, who: &RequestPrincipal) -> bool {
    match (kind, who) {
        ("AWS", _) if value == "*" => true, // the same as `"Principal": "*"`
        ("AWS", RequestPrincipal::Aws(arn)) => aws_principal_matches(value, arn),
        ("Service", RequestPrincipal::Service(name)) => value == name,
        ("Federated", RequestPrincipal::Federated(arn)) => value == arn,
        _ => false,
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

pub(super) fn aws_principal_matches(value: &str, caller: &str) -> bool {
    let Some([partition, service, _, account, resource]) = arn_fields(caller) else {
        return false;
    };
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value == account; // a bare account id means the account's root
    }
    let Some([p_partition, p_service, _, p_account, p_resource]) = arn_fields(value) else {
        return false;
    };
    let same_account = p_partition == partition && p_account == account && p_service == "iam";
    if same_account && p_resource == "root" {
        return true; // any principal of that account (its own policies decide the rest)
    }
    if value == caller {
        return true;
    }
    // A role's sessions (role chaining) match the role; session ARNs carry the name, not the path.
    match (
        p_resource.strip_prefix("role/"),
        resource.strip_prefix("assumed-role/"),
    ) {
        (Some(role_path), Some(session)) if same_account && service == "sts" => {
            role_path.rsplit('/').next() == session.split('/').next()
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SetQualifier {
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Test {
    Equals,
    EqualsIgnoreCase,
    Like,
    Arn,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Operator {
    set: Option<SetQualifier>,
    pub(super) test: Test,
    pub(super) negated: bool,
    if_exists: bool,
}

impl Operator {
    pub(super) fn parse(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let (set, rest) = if let Some(rest) = lower.strip_prefix("foranyvalue:") {
            (Some(SetQualifier::AnyValue), rest)
        } else if let Some(rest) = lower.strip_prefix("forallvalues:") {
            (Some(SetQualifier::AllValues), rest)
        } else {
            (None, lower.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("ifexists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let (test, negated) = match base {
            "stringequals" => (Test::Equals, false),
            "stringnotequals" => (Test::Equals, true),
            "stringequalsignorecase" => (Test::EqualsIgnoreCase, false),
            "stringnotequalsignorecase" => (Test::EqualsIgnoreCase, true),
            "stringlike" => (Test::Like, false),
            "stringnotlike" => (Test::Like, true),
            "arnequals" | "arnlike" => (Test::Arn, false),
            "arnnotequals" | "arnnotlike" => (Test::Arn, true),
            "bool" => (Test::Bool, false),
            "null" if set.is_none() && !if_exists => (Test::Null, false),
            _ => return None,
        };
        Some(Operator {
            set,
            test,
            negated,
            if_exists,
        })
    }

    fn holds(&self, wanted: &Values, actual: Option<&[String]>) -> bool {
        let actual = actual.filter(|values| !values.is_empty());
        if self.test == Test::Null {
            return wanted
                .iter()
                .any(|w| match w.to_ascii_lowercase().as_str() {
                    "true" => actual.is_none(),
                    "false" => actual.is_some(),
                    _ => false,
                });
        }
        let Some(actual) = actual else {
            // Missing key: positive operators fail, negated hold, ForAllValues vacuously holds.
            return self.if_exists
                || match self.set {
                    None => self.negated,
                    Some(SetQualifier::AnyValue) => false,
                    Some(SetQualifier::AllValues) => true,
                };
        };
        let passes = |value: &String| wanted.iter().any(|w| self.matches(w, value)) != self.negated;
        match (self.set, self.negated) {
            (None, false) | (Some(SetQualifier::AnyValue), _) => actual.iter().any(passes),
            (None, true) | (Some(SetQualifier::AllValues), _) => actual.iter().all(passes),
        }
    }

    fn matches(&self, wanted: &str, value: &str) -> bool {
        match self.test {
            Test::Equals => wanted == value,
            Test::EqualsIgnoreCase => wanted.to_lowercase() == value.to_lowercase(),
            Test::Like => glob(wanted, value),
            Test::Arn => arn_like(wanted, value),
            Test::Bool => wanted.eq_ignore_ascii_case(value),
            Test::Null => false,
        }
    }
}

/// `Ok(true)` all hold, `Ok(false)` one fails, `Err(ops)` the known ones hold, `ops` are unknown.
pub(super) fn conditions_hold(
    conditions: &Conditions,
    context: &BTreeMap<String, Vec<String>>,
) -> Result<bool, Vec<String>> {
    let mut unknown = Vec::new();
    for (name, keys) in conditions {
        let Some(operator) = Operator::parse(name) else {
            unknown.push(name.clone());
            continue;
        };
        for (key, wanted) in keys {
            let actual = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_slice());
            if !operator.holds(wanted, actual) {
                return Ok(false);
            }
        }
    }
    if unknown.is_empty() {
        Ok(true)
    } else {
        Err(unknown)
    }
}

/// `*` any run of characters, `?` one character; case-sensitive.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t, mut star, mut resume) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            resume += 1;
            t = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// IAM's ARN matching: each of the six `:` fields globbed on its own; `*` alone matches all.
pub(super) fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn: Vec<&str> = arn.splitn(6, ':').collect();
    pattern.len() == 6 && arn.len() == 6 && pattern.iter().zip(&arn).all(|(p, a)| glob(p, a))
}
