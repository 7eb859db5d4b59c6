//! IAM condition operators (StringEquals, ArnLike, IfExists, ForAnyValue, ...) and the
//! wildcard matching they and principals share, evaluated for one request.

use super::document::{Conditions, Values};
use super::request::{KeyValue, Request};

/// Three-valued truth: a condition on a key whose value cannot be known is `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Truth {
    True,
    False,
    Unknown(Vec<String>),
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

    /// Whether the condition holds for what the request carries, with AWS's rules for a missing
    /// key; None when the key's value cannot be known.
    fn holds(&self, wanted: &Values, actual: KeyValue<'_>) -> Option<bool> {
        let actual = match actual {
            KeyValue::Unknown => return None,
            KeyValue::Absent => None,
            KeyValue::Present(values) => Some(values).filter(|values| !values.is_empty()),
        };
        if self.test == Test::Null {
            return Some(
                wanted
                    .iter()
                    .any(|w| match w.to_ascii_lowercase().as_str() {
                        "true" => actual.is_none(),
                        "false" => actual.is_some(),
                        _ => false,
                    }),
            );
        }
        let Some(actual) = actual else {
            // Missing key: positive operators fail, negated hold, ForAllValues vacuously holds.
            return Some(
                self.if_exists
                    || match self.set {
                        None => self.negated,
                        Some(SetQualifier::AnyValue) => false,
                        Some(SetQualifier::AllValues) => true,
                    },
            );
        };
        let passes = |value: &String| wanted.iter().any(|w| self.matches(w, value)) != self.negated;
        Some(match (self.set, self.negated) {
            (None, false) | (Some(SetQualifier::AnyValue), _) => actual.iter().any(passes),
            (None, true) | (Some(SetQualifier::AllValues), _) => actual.iter().all(passes),
        })
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

/// All conditions must hold: one that fails decides; else one this tool cannot evaluate (an
/// unknown operator, a key whose value cannot be known) makes the whole unknown.
pub(super) fn conditions_hold(conditions: &Conditions, request: &Request) -> Truth {
    let mut unknown = Vec::new();
    for (name, keys) in conditions {
        let Some(operator) = Operator::parse(name) else {
            unknown.push(format!("operator {name}"));
            continue;
        };
        for (key, wanted) in keys {
            match operator.holds(wanted, request.lookup(key)) {
                Some(true) => {}
                Some(false) => return Truth::False,
                None => unknown.push(format!("{name} on {key}")),
            }
        }
    }
    if unknown.is_empty() {
        Truth::True
    } else {
        Truth::Unknown(unknown)
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
