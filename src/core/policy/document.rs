//! IAM policy documents as IAM writes them: statements, principals, conditions; parsing of the
//! raw or percent-encoded JSON, and when two documents mean the same.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The policy language version every generated document declares.
pub const POLICY_VERSION: &str = "2012-10-17";
/// What IAM assumes when a document has no `Version`.
const LEGACY_VERSION: &str = "2008-10-17";
pub const ASSUME_ROLE: &str = "sts:AssumeRole";
pub const TAG_SESSION: &str = "sts:TagSession";
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
/// The service principal EKS Pod Identity assumes roles as.
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";
/// The audience EKS's pod identity webhook puts in projected IRSA tokens.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// Prefix of the session tags EKS Pod Identity sets (`eks-cluster-arn`, `kubernetes-namespace`..).
pub const REQUEST_TAG: &str = "aws:RequestTag/";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("the policy document is percent-encoded but does not decode to UTF-8 text")]
    Encoding,
    #[error("not an IAM policy document: {0}")]
    Invalid(String),
}

/// One string or a list of strings, as IAM accepts them; one value is written back as a string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(pub Vec<String>);

impl Values {
    pub fn of<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Self {
        Values(items.into_iter().map(Into::into).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Condition values may also be JSON booleans or numbers; IAM compares them as text.
        let scalar = |value: Value| match value {
            Value::String(text) => Ok(text),
            Value::Bool(flag) => Ok(flag.to_string()),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(D::Error::custom(format!(
                "expected a string or a list of strings, found {other}"
            ))),
        };
        match Value::deserialize(deserializer)? {
            Value::Array(items) => items.into_iter().map(scalar).collect::<Result<_, _>>(),
            one => scalar(one).map(|text| vec![text]),
        }
        .map(Values)
    }
}

/// A statement's `Principal`: `"*"` or `{"AWS"|"Service"|"Federated": string|[string]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Any,
    Of(BTreeMap<String, Values>),
}

impl Principal {
    /// One principal of one kind: `AWS`, `Service` or `Federated`.
    pub fn of(kind: &str, value: &str) -> Self {
        Principal::Of(BTreeMap::from([(kind.to_owned(), Values::of([value]))]))
    }
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Principal::Any => serializer.serialize_str("*"),
            Principal::Of(kinds) => kinds.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(star) if star == "*" => Ok(Principal::Any),
            map @ Value::Object(_) => serde_json::from_value(map)
                .map(Principal::Of)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "Principal must be \"*\" or a map like {{\"AWS\": ...}}, found {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `{operator: {key: values}}`, ordered so that output is stable.
pub type Conditions = BTreeMap<String, BTreeMap<String, Values>>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_principal: Option<Principal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_resource: Option<Values>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: Conditions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version", default = "legacy_version")]
    pub version: String,
    #[serde(rename = "Statement", deserialize_with = "one_or_many")]
    pub statements: Vec<Statement>,
}

fn legacy_version() -> String {
    LEGACY_VERSION.to_owned()
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Statement>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Array(items) => items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>(),
        one => serde_json::from_value(one).map(|statement| vec![statement]),
    }
    .map_err(D::Error::custom)
}

impl PolicyDocument {
    /// A document with no statement (what a role without a policy has).
    pub fn empty() -> Self {
        PolicyDocument::new(Vec::new())
    }

    pub(super) fn new(statements: Vec<Statement>) -> Self {
        PolicyDocument {
            version: POLICY_VERSION.to_owned(),
            statements,
        }
    }

    /// Appends `statement` unless an equal one is there; says whether it did.
    pub fn add_statement(&mut self, statement: Statement) -> bool {
        let absent = !self.statements.contains(&statement);
        if absent {
            self.statements.push(statement);
        }
        absent
    }
}

/// Compact JSON (`{:#}` for indented), in a stable order.
impl fmt::Display for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

/// Parses a policy as raw JSON or as the percent-encoded form GetRole returns.
pub fn parse_policy(text: &str) -> Result<PolicyDocument, PolicyError> {
    let text = text.trim();
    let decoded;
    let json = if text.starts_with('{') {
        text
    } else {
        decoded = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|_| PolicyError::Encoding)?;
        &decoded
    };
    serde_json::from_str(json).map_err(|e| PolicyError::Invalid(e.to_string()))
}

// ---- generators ----

// ---- when two documents mean the same ----

/// A statement in a form where equal meaning is equal text: no Sid, sorted values, actions and
/// condition keys in lower case (IAM compares those without case).
pub(super) fn canonical_statement(statement: &Statement) -> String {
    let mut s = statement.clone();
    s.sid = None;
    let sort = |values: &mut Values, lower: bool| {
        if lower {
            values
                .0
                .iter_mut()
                .for_each(|v| *v = v.to_ascii_lowercase());
        }
        values.0.sort();
        values.0.dedup();
    };
    for values in [&mut s.action, &mut s.not_action].into_iter().flatten() {
        sort(values, true);
    }
    for values in [&mut s.resource, &mut s.not_resource].into_iter().flatten() {
        sort(values, false);
    }
    for principal in [&mut s.principal, &mut s.not_principal]
        .into_iter()
        .flatten()
    {
        if let Principal::Of(kinds) = principal {
            kinds.values_mut().for_each(|values| sort(values, false));
        }
    }
    s.condition = std::mem::take(&mut s.condition)
        .into_iter()
        .map(|(operator, keys)| {
            let keys = keys
                .into_iter()
                .map(|(key, mut values)| {
                    sort(&mut values, false);
                    (key.to_ascii_lowercase(), values)
                })
                .collect();
            (operator.to_ascii_lowercase(), keys)
        })
        .collect();
    serde_json::to_string(&s).unwrap_or_default()
}

fn canonical(doc: &PolicyDocument) -> (String, BTreeSet<String>) {
    (
        doc.version.clone(),
        doc.statements.iter().map(canonical_statement).collect(),
    )
}

/// Whether two documents mean the same (statement order, Sids, value order aside).
pub fn same_policy(a: &PolicyDocument, b: &PolicyDocument) -> bool {
    canonical(a) == canonical(b)
}

/// The wanted statements `existing` lacks.
pub fn missing_statements<'a>(
    existing: &PolicyDocument,
    wanted: &'a PolicyDocument,
) -> Vec<&'a Statement> {
    let have = canonical(existing).1;
    wanted
        .statements
        .iter()
        .filter(|s| !have.contains(&canonical_statement(s)))
        .collect()
}
