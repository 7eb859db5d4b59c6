//! Kubernetes' rules for the names and keys flags give (namespaces, label and annotation keys
//! and values, project names), each rejection saying which rule was broken and what is allowed.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The most a label value or the name part of a key may hold (Kubernetes' limit).
const NAME_MAX: usize = 63;
/// The most a DNS subdomain (key prefix, object name) may hold.
const SUBDOMAIN_MAX: usize = 253;
/// The most all of an object's annotations may hold together, keys and values (256 KiB).
const ANNOTATIONS_MAX: usize = 256 * 1024;

const NAME_RULE: &str = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters";
const DNS_LABEL_RULE: &str = "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
const SUBDOMAIN_RULE: &str = "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";

/// What is wrong with `name` as a DNS-1123 label (a namespace name), if anything.
pub(super) fn dns_label_problem(name: &str) -> Option<String> {
    let alnum_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let allowed = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.len() > NAME_MAX {
        Some(format!(
            "it is {} characters long, and Kubernetes allows at most {NAME_MAX}",
            name.len()
        ))
    } else if name.is_empty() || !alnum_ends || !allowed {
        Some(format!("use {DNS_LABEL_RULE}"))
    } else {
        None
    }
}

/// What is wrong with `name` as a DNS-1123 subdomain (an object name, a key prefix), if anything.
pub(super) fn subdomain_problem(name: &str) -> Option<String> {
    if name.len() > SUBDOMAIN_MAX {
        return Some(format!(
            "it is {} characters long, and Kubernetes allows at most {SUBDOMAIN_MAX}",
            name.len()
        ));
    }
    let labels_ok = !name.is_empty()
        && name.split('.').all(|label| {
            label.starts_with(|c: char| c.is_ascii_alphanumeric())
                && label.ends_with(|c: char| c.is_ascii_alphanumeric())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    (!labels_ok).then(|| format!("use {SUBDOMAIN_RULE}"))
}

/// What is wrong with `value` as the name part of a key or as a label value, if anything.
fn name_problem(value: &str) -> Option<String> {
    if value.len() > NAME_MAX {
        return Some(format!(
            "it is {} characters long, and Kubernetes allows at most {NAME_MAX}",
            value.len()
        ));
    }
    let ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!ok).then(|| format!("use {NAME_RULE}"))
}

/// What is wrong with `key` as a label or annotation key (`[prefix/]name`), if anything.
fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.contains('/') {
        return Some("a key has at most one '/', between the prefix and the name".into());
    }
    if let Some(problem) = prefix.and_then(subdomain_problem) {
        return Some(format!(
            "its prefix {:?} is not a DNS subdomain: {problem}",
            prefix.unwrap_or_default()
        ));
    }
    if name.is_empty() {
        return Some(if prefix.is_some() {
            "the name after the prefix is empty".into()
        } else {
            "the key is empty".into()
        });
    }
    name_problem(name).map(|problem| format!("its name {name:?}: {problem}"))
}

/// Whether the pairs are for labels (values are checked too) or annotations (any value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Label,
    Annotation,
}

/// `KEY=VALUE` pairs of `flag`, checked against Kubernetes' rules for that kind.
pub(super) fn key_values(
    flag: &str,
    kind: Kind,
    pairs: &[String],
) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Error::usage(format!(
                "{flag} {pair:?}: write it as KEY=VALUE"
            )));
        };
        if let Some(problem) = key_problem(key) {
            return Err(Error::usage(format!(
                "{flag} {pair:?}: {key:?} is not a valid key ({problem}); a key is [prefix/]name, like example.com/team"
            )));
        }
        if kind == Kind::Label
            && !value.is_empty()
            && let Some(problem) = name_problem(value)
        {
            return Err(Error::usage(format!(
                "{flag} {pair:?}: {value:?} is not a valid label value ({problem}; or empty); put free text in an --annotation instead"
            )));
        }
        map.insert(key.to_owned(), value.to_owned());
    }
    let size: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
    if kind == Kind::Annotation && size > ANNOTATIONS_MAX {
        return Err(Error::usage(format!(
            "{flag}: the annotations hold {size} bytes together, and Kubernetes allows at most {ANNOTATIONS_MAX} (256 KiB) on one object; keep large data elsewhere"
        )));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn keys_and_values_kubernetes_takes_are_taken() {
        let map = key_values(
            "--label",
            Kind::Label,
            &pairs(&["env=prod", "example.com/team=a_b.c-1", "A.b_c=", "x=Y"]),
        )
        .unwrap();
        assert_eq!(map.len(), 4);
        let long = "v".repeat(300);
        let annotation = format!("note=free text, with spaces & {long}");
        assert!(key_values("--annotation", Kind::Annotation, &pairs(&[&annotation])).is_ok());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            ("bad key=v", "use letters"),
            ("/a=v", "prefix \"\" is not a DNS subdomain"),
            (
                "Bad_Prefix!/a=v",
                "prefix \"Bad_Prefix!\" is not a DNS subdomain",
            ),
            ("a/b/c=v", "at most one '/'"),
            ("example.com/=v", "name after the prefix is empty"),
            ("=v", "the key is empty"),
            ("novalue", "KEY=VALUE"),
            ("a=bad value", "not a valid label value"),
            ("a=-dash", "not a valid label value"),
        ];
        for (pair, expected) in cases {
            let Err(Error::Usage(message)) = key_values("--label", Kind::Label, &pairs(&[pair]))
            else {
                panic!("{pair} was taken");
            };
            assert!(message.contains(expected), "{pair}: {message}");
        }
        let long_name = format!("{}=v", "k".repeat(64));
        let long_value = format!("k={}", "v".repeat(64));
        let long_prefix = format!("{}/k=v", "p".repeat(254));
        for pair in [long_name, long_value, long_prefix] {
            let Err(Error::Usage(message)) = key_values("--label", Kind::Label, &pairs(&[&pair]))
            else {
                panic!("{pair} was taken");
            };
            assert!(message.contains("characters long"), "{message}");
        }
        let huge = format!("k={}", "v".repeat(ANNOTATIONS_MAX));
        let Err(Error::Usage(message)) =
            key_values("--annotation", Kind::Annotation, &pairs(&[&huge]))
        else {
            panic!("a 256 KiB annotation was taken");
        };
        assert!(message.contains("256 KiB"), "{message}");
    }

    #[test]
    fn namespaces_are_dns_labels() {
        assert_eq!(dns_label_problem("argocd"), None);
        assert_eq!(dns_label_problem("team-1"), None);
        for bad in ["", "-a", "a-", "Argo", "a_b", "a.b"] {
            assert!(dns_label_problem(bad).is_some(), "{bad}");
        }
        assert!(
            dns_label_problem(&"a".repeat(64))
                .unwrap()
                .contains("64 characters")
        );
        assert_eq!(subdomain_problem("default"), None);
        assert!(subdomain_problem("no such/project").is_some());
    }
}
