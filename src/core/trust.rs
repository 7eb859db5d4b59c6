//! IAM policy documents: generate the tool's trust and permission policies, parse, evaluate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::model::{ClusterArn, RoleArn, SaRef};

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

    fn matches(&self, who: &RequestPrincipal) -> bool {
        match self {
            Principal::Any => true,
            Principal::Of(kinds) => kinds
                .iter()
                .any(|(kind, values)| values.iter().any(|v| principal_matches(kind, v, who))),
        }
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
    fn new(statements: Vec<Statement>) -> Self {
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

/// `https://oidc.eks.<region>.amazonaws.com/id/X/` -> `oidc.eks.<region>.amazonaws.com/id/X`.
pub fn issuer_host_path(issuer_url: &str) -> &str {
    let issuer = issuer_url.trim();
    issuer
        .strip_prefix("https://")
        .unwrap_or(issuer)
        .trim_end_matches('/')
}

/// The IAM OIDC provider ARN IAM gives a cluster's issuer.
pub fn oidc_provider_arn(partition: &str, account: &str, issuer_url: &str) -> String {
    let issuer = issuer_host_path(issuer_url);
    format!("arn:{partition}:iam::{account}:oidc-provider/{issuer}")
}

/// The `sub` claim of a service account's projected token.
pub fn service_account_subject(sa: &SaRef) -> String {
    format!("system:serviceaccount:{}:{}", sa.namespace, sa.name)
}

fn allow(principal: Option<Principal>, actions: &[&str]) -> Statement {
    Statement {
        sid: None,
        effect: Effect::Allow,
        principal,
        not_principal: None,
        action: Some(Values::of(actions.iter().copied())),
        not_action: None,
        resource: None,
        not_resource: None,
        condition: Conditions::new(),
    }
}

fn assume_actions(pod_identity: bool) -> &'static [&'static str] {
    if pod_identity {
        &[ASSUME_ROLE, TAG_SESSION]
    } else {
        &[ASSUME_ROLE]
    }
}

/// Management role trust for IRSA: exactly these service accounts, audience `sts.amazonaws.com`.
pub fn irsa_trust(
    oidc_provider_arn: &str,
    issuer: &str,
    service_accounts: &[SaRef],
) -> PolicyDocument {
    let issuer = issuer_host_path(issuer);
    let subjects: BTreeSet<String> = service_accounts
        .iter()
        .map(service_account_subject)
        .collect();
    let mut statement = allow(
        Some(Principal::of("Federated", oidc_provider_arn)),
        &[ASSUME_ROLE_WITH_WEB_IDENTITY],
    );
    let keys = BTreeMap::from([
        (format!("{issuer}:aud"), Values::of([STS_AUDIENCE])),
        (format!("{issuer}:sub"), Values::of(subjects)),
    ]);
    statement.condition.insert("StringEquals".into(), keys);
    PolicyDocument::new(vec![statement])
}

/// Management role trust for EKS Pod Identity. With a hub cluster and/or service accounts, it is
/// scoped by the session tags Pod Identity sets (one statement per namespace), as AWS documents.
pub fn pod_identity_trust(hub: Option<&ClusterArn>, service_accounts: &[SaRef]) -> PolicyDocument {
    let mut by_namespace: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for sa in service_accounts {
        by_namespace
            .entry(&sa.namespace)
            .or_default()
            .insert(&sa.name);
    }
    let mut scopes: Vec<BTreeMap<String, Values>> = by_namespace
        .into_iter()
        .map(|(namespace, names)| {
            BTreeMap::from([
                (tag("kubernetes-namespace"), Values::of([namespace])),
                (tag("kubernetes-service-account"), Values::of(names)),
            ])
        })
        .collect();
    if scopes.is_empty() {
        scopes.push(BTreeMap::new());
    }
    let statements = scopes
        .into_iter()
        .map(|mut keys| {
            if let Some(hub) = hub {
                keys.insert(tag("eks-cluster-arn"), Values::of([hub.to_string()]));
            }
            let mut statement = allow(
                Some(Principal::of("Service", POD_IDENTITY_SERVICE)),
                assume_actions(true),
            );
            if !keys.is_empty() {
                statement.condition.insert("StringEquals".into(), keys);
            }
            statement
        })
        .collect();
    PolicyDocument::new(statements)
}

fn tag(name: &str) -> String {
    format!("{REQUEST_TAG}{name}")
}

/// Target role trust: the management role may assume it (and pass pod identity's transitive tags).
pub fn target_role_trust(management_role: &RoleArn, pod_identity: bool) -> PolicyDocument {
    PolicyDocument::new(vec![allow(
        Some(Principal::of("AWS", &management_role.to_string())),
        assume_actions(pod_identity),
    )])
}

/// The management role's permission to assume exactly these target roles; `None` in direct mode.
pub fn management_permissions(
    target_roles: &[RoleArn],
    pod_identity: bool,
) -> Option<PolicyDocument> {
    let arns: BTreeSet<String> = target_roles.iter().map(ToString::to_string).collect();
    if arns.is_empty() {
        return None;
    }
    let mut statement = allow(None, assume_actions(pod_identity));
    statement.resource = Some(Values::of(arns));
    Some(PolicyDocument::new(vec![statement]))
}

/// Trust statement letting a role assume itself (Argo CD issue #17064: roleARN = management role;
/// IAM no longer trusts a role's own sessions implicitly).
pub fn self_assume_statement(role: &RoleArn, pod_identity: bool) -> Statement {
    Statement {
        sid: Some("ArgoCdSelfAssume".into()),
        ..allow(
            Some(Principal::of("AWS", &role.to_string())),
            assume_actions(pod_identity),
        )
    }
}

// ---- evaluation ----

/// Who asks, as IAM sees the caller of an STS action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPrincipal {
    /// A role, user, or `arn:aws:sts::<acct>:assumed-role/<name>/<session>`.
    Aws(String),
    Service(String),
    /// An IAM OIDC provider ARN.
    Federated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: String,
    pub principal: RequestPrincipal,
    /// Checked against `Resource` only when set (trust policies have none).
    pub resource: Option<String>,
    /// Condition keys as the request carries them.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, principal: RequestPrincipal) -> Self {
        Request {
            action: action.to_owned(),
            principal,
            resource: None,
            context: BTreeMap::new(),
        }
    }

    pub fn with_context(mut self, key: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.context.insert(key.to_owned(), values);
        self
    }

    pub fn with_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// What STS evaluates when `sa`'s pod exchanges its projected token (IRSA).
    pub fn web_identity(oidc_provider_arn: &str, issuer: &str, sa: &SaRef) -> Self {
        let issuer = issuer_host_path(issuer);
        let principal = RequestPrincipal::Federated(oidc_provider_arn.to_owned());
        Request::new(ASSUME_ROLE_WITH_WEB_IDENTITY, principal)
            .with_context(&format!("{issuer}:sub"), &[&service_account_subject(sa)])
            .with_context(&format!("{issuer}:aud"), &[STS_AUDIENCE])
    }

    /// What STS evaluates when EKS Pod Identity assumes a role for `sa` on `hub` (session tags on).
    pub fn pod_identity(hub: &ClusterArn, sa: &SaRef) -> Self {
        let principal = RequestPrincipal::Service(POD_IDENTITY_SERVICE.to_owned());
        Request::new(ASSUME_ROLE, principal)
            .with_context(&tag("eks-cluster-arn"), &[&hub.to_string()])
            .with_context(&tag("eks-cluster-name"), &[&hub.name])
            .with_context(&tag("kubernetes-namespace"), &[&sa.namespace])
            .with_context(&tag("kubernetes-service-account"), &[&sa.name])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Index of the statement that decided (none for an implicit deny).
    pub statement: Option<usize>,
    /// Operators this evaluator does not know, in statements that could have changed the outcome.
    pub unknown_operators: Vec<String>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// False when an unknown operator might have changed the outcome ("cannot tell").
    pub fn is_certain(&self) -> bool {
        self.outcome == Outcome::ExplicitDeny || self.unknown_operators.is_empty()
    }
}

/// Evaluates one policy as IAM does: an explicit Deny wins, else any matching Allow, else deny.
pub fn allows(doc: &PolicyDocument, request: &Request) -> Decision {
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

fn applies(statement: &Statement, request: &Request) -> bool {
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

fn action_matches(statement: &Statement, action: &str) -> bool {
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

fn principal_matches(kind: &str, value: &str, who: &RequestPrincipal) -> bool {
    match (kind, who) {
        ("AWS", _) if value == "*" => true, // the same as `"Principal": "*"`
        ("AWS", RequestPrincipal::Aws(arn)) => aws_principal_matches(value, arn),
        ("Service", RequestPrincipal::Service(name)) => value == name,
        ("Federated", RequestPrincipal::Federated(arn)) => value == arn,
        _ => false,
    }
}

/// `[partition, service, region, account, resource]` of an ARN.
fn arn_fields(arn: &str) -> Option<[&str; 5]> {
    match arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, service, region, account, resource] => {
            Some([partition, service, region, account, resource])
        }
        _ => None,
    }
}

fn aws_principal_matches(value: &str, caller: &str) -> bool {
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
enum SetQualifier {
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Equals,
    EqualsIgnoreCase,
    Like,
    Arn,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy)]
struct Operator {
    set: Option<SetQualifier>,
    test: Test,
    negated: bool,
    if_exists: bool,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
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
fn conditions_hold(
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
fn glob(pattern: &str, text: &str) -> bool {
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
fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn: Vec<&str> = arn.splitn(6, ':').collect();
    pattern.len() == 6 && arn.len() == 6 && pattern.iter().zip(&arn).all(|(p, a)| glob(p, a))
}

// ---- diagnostics for doctor ----

/// The `<issuer>:sub` values (or patterns) that Allow statements for web identity accept.
pub fn irsa_subjects(doc: &PolicyDocument, issuer: &str) -> Vec<String> {
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
pub fn missing_actions(doc: &PolicyDocument, request: &Request, actions: &[&str]) -> Vec<String> {
    actions
        .iter()
        .filter(|action| {
            let request = Request {
                action: (**action).to_owned(),
                ..request.clone()
            };
            !allows(doc, &request).is_allowed()
        })
        .map(|action| (*action).to_owned())
        .collect()
}

/// Whether any statement has a condition on `key` (compared case-insensitively, as IAM does).
pub fn has_condition_key(doc: &PolicyDocument, key: &str) -> bool {
    doc.statements
        .iter()
        .flat_map(|s| s.condition.values())
        .any(|keys| keys.keys().any(|k| k.eq_ignore_ascii_case(key)))
}

/// Condition operators in `doc` this evaluator cannot apply.
pub fn unknown_operators(doc: &PolicyDocument) -> Vec<String> {
    let names = doc.statements.iter().flat_map(|s| s.condition.keys());
    let unknown: BTreeSet<&String> = names.filter(|n| Operator::parse(n).is_none()).collect();
    unknown.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
    const PROVIDER: &str =
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
    const MGMT: &str = "arn:aws:iam::111122223333:role/argocd-management";
    /// Seed 000's trust policy: neither its principal nor its condition key exists for IRSA.
    const SEED_000: &str = r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Principal": { "Service": "eks.amazonaws.com" }, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": { "StringLike": { "eks:awsserviceaccount.name": "argoCD:argoCD-controller" } } } ] }"#;
    const BOTH: &[&str] = &[ASSUME_ROLE, TAG_SESSION];

    type Context<'a> = &'a [(&'a str, &'a [&'a str])];

    fn sa(namespace: &str, name: &str) -> SaRef {
        SaRef::new(namespace, name)
    }

    fn sas() -> Vec<SaRef> {
        vec![
            sa("argocd", "argocd-server"),
            sa("argocd", "argocd-application-controller"),
        ]
    }

    fn role(text: &str) -> RoleArn {
        RoleArn::parse(text).unwrap()
    }

    fn hub(name: &str) -> ClusterArn {
        ClusterArn::new("aws", "eu-west-1", "111122223333", name)
    }

    fn web(namespace: &str, name: &str) -> Request {
        Request::web_identity(PROVIDER, ISSUER, &sa(namespace, name))
    }

    fn aws(action: &str, arn: &str) -> Request {
        Request::new(action, RequestPrincipal::Aws(arn.into()))
    }

    fn pods(cluster: &str, namespace: &str, name: &str) -> Request {
        Request::pod_identity(&hub(cluster), &sa(namespace, name))
    }

    fn doc(json: &str) -> PolicyDocument {
        parse_policy(json).unwrap()
    }

    fn allowed(doc: &PolicyDocument, request: &Request) -> bool {
        allows(doc, request).is_allowed()
    }

    /// One statement allowing sts:AssumeRole to anyone under `{operator: {key: values}}`.
    fn keyed(operator: &str, key: &str, values: &str) -> PolicyDocument {
        doc(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole",
                "Condition":{{"{operator}":{{"{key}":{values}}}}}}}]}}"#
        ))
    }

    fn with(context: Context) -> Request {
        let request = aws(ASSUME_ROLE, MGMT);
        context
            .iter()
            .fold(request, |r, (k, v)| r.with_context(k, v))
    }

    #[test]
    fn irsa_trust_exact_json_round_trips() {
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
    fn pod_identity_trust_exact_json_round_trips() {
        let plain = pod_identity_trust(None, &[]);
        let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
        assert_eq!((plain.to_string(), doc(json)), (json.to_owned(), plain));
        let scoped = pod_identity_trust(Some(&hub("hub")), &sas());
        let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/eks-cluster-arn":"arn:aws:eks:eu-west-1:111122223333:cluster/hub","aws:RequestTag/kubernetes-namespace":"argocd","aws:RequestTag/kubernetes-service-account":["argocd-application-controller","argocd-server"]}}}]}"#;
        assert_eq!((scoped.to_string(), doc(json)), (json.to_owned(), scoped));
    }

    #[test]
    fn scoped_pod_identity_trust_allows_only_its_hub_and_service_accounts() {
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
    fn target_trust_and_permissions_are_exact() {
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
    fn self_assume_statement_lets_the_role_assume_itself() {
        let mgmt = role(MGMT);
        let mut policy = irsa_trust(PROVIDER, ISSUER, &sas());
        let itself = aws(
            ASSUME_ROLE,
            "arn:aws:sts::111122223333:assumed-role/argocd-management/s",
        );
        assert!(!allowed(&policy, &itself));
        assert!(policy.add_statement(self_assume_statement(&mgmt, false)));
        assert!(!policy.add_statement(self_assume_statement(&mgmt, false)));
        assert_eq!(allows(&policy, &itself).statement, Some(1));
        assert_eq!(
            policy.statements[1].sid.as_deref(),
            Some("ArgoCdSelfAssume")
        );
        let tagged = PolicyDocument::new(vec![self_assume_statement(&mgmt, true)]);
        assert!(missing_actions(&tagged, &itself, BOTH).is_empty());
    }

    #[test]
    fn parses_the_url_encoded_form_get_role_returns() {
        let encoded = "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%7B%0A%20%20%20%20%22Effect%22%3A%20%22Allow%22%2C%0A%20%20%20%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22pods.eks.amazonaws.com%22%7D%2C%0A%20%20%20%20%22Action%22%3A%20%5B%22sts%3AAssumeRole%22%2C%20%22sts%3ATagSession%22%5D%0A%20%20%7D%0A%7D";
        assert_eq!(parse_policy(encoded), Ok(pod_identity_trust(None, &[])));
        assert_eq!(parse_policy("%7B%ff%7D"), Err(PolicyError::Encoding));
    }

    #[test]
    fn single_and_array_forms_are_the_same_policy() {
        let single = doc(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
                "Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#);
        let arrays = doc(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":["111122223333"]},"Action":["sts:AssumeRole"]}]}"#);
        assert_eq!(single, arrays);
        assert_eq!(single.to_string(), arrays.to_string());
    }

    #[test]
    fn parses_star_principal_bool_values_and_missing_version() {
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
        assert_eq!(allows(&policy, &aws(ASSUME_ROLE, MGMT)).statement, Some(0));
        let decision = allows(&policy, &aws(TAG_SESSION, MGMT));
        assert_eq!(
            (decision.outcome, decision.statement),
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
        assert_eq!(decision.outcome, Outcome::ImplicitDeny);
        assert_eq!(decision.unknown_operators, ["DateGreaterThan"]);
        assert!(!decision.is_certain());
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
}
