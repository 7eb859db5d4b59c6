//! A cluster Secret's `config`, read the way Argo CD reads it: Go's encoding/json decoding
//! into Argo CD's `ClusterConfig` (util/db SecretToCluster), so list, doctor and remove see
//! the same `awsAuthConfig` and `tlsClientConfig` that Argo CD uses.
//!
//! What Go's decoder does, and so this does: an object key matches a field exactly or else
//! case-insensitively (Unicode simple folding, so `roleArn` and `ROLEARN` are `roleARN`); keys
//! are applied in order, a later one overwriting an earlier; `null` leaves a field alone (a
//! pointer, `awsAuthConfig`, becomes nil); unknown keys are ignored; a value of the wrong type
//! is an error, and then Argo CD refuses the whole Secret. An empty `roleARN` means no role:
//! `argocd-k8s-auth` gets `--role-arn` only when it is not empty.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::secret::{AwsAuthConfig, ClusterConfig, TlsClientConfig};

/// A JSON value that keeps each object's keys in their order, as Go's decoder meets them.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Number => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonVisitor;
        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
                Ok(Json::Bool(value))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
                Ok(Json::String(value.to_owned()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
                Ok(Json::String(value))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    entries.push((key, value));
                }
                Ok(Json::Object(entries))
            }
        }
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Whether JSON key `key` selects the Go struct field whose JSON name is `field` (ASCII):
/// Go's `bytes.EqualFold`, where besides ASCII case only U+017F (long s) folds to `s` and
/// U+212A (Kelvin sign) to `k`.
pub(crate) fn go_key_matches(key: &str, field: &str) -> bool {
    let mut field = field.chars();
    for k in key.chars() {
        let Some(f) = field.next() else {
            return false;
        };
        let k = match k {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            other => other,
        };
        if !k.eq_ignore_ascii_case(&f) {
            return false;
        }
    }
    field.next().is_none()
}

/// Why Argo CD cannot read a Secret's `config` (it then skips the whole Secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Argo CD cannot read its config: {0}")]
pub(crate) struct ConfigError(String);

fn type_error(path: &str, want: &str, got: &Json) -> ConfigError {
    ConfigError(format!(
        "{path} is a JSON {}, Argo CD expects {want}",
        got.kind()
    ))
}

/// Go's decoding of a JSON string into a `string` field: null leaves it alone.
fn decode_string(slot: &mut Option<String>, value: &Json, path: &str) -> Result<(), ConfigError> {
    match value {
        Json::Null => Ok(()),
        Json::String(text) => {
            *slot = Some(text.clone());
            Ok(())
        }
        other => Err(type_error(path, "a string", other)),
    }
}

/// The fields of one JSON object, each handed to `field` with its Go name, in order.
fn decode_object(
    value: &Json,
    path: &str,
    fields: &[&str],
    mut field: impl FnMut(&str, &Json, &str) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let Json::Object(entries) = value else {
        return Err(type_error(path, "an object", value));
    };
    for (key, item) in entries {
        if let Some(name) = fields.iter().find(|name| go_key_matches(key, name)) {
            field(name, item, &format!("{path}.{key}"))?;
        }
    }
    Ok(())
}

fn decode_aws_auth(slot: &mut AwsAuthConfig, value: &Json, path: &str) -> Result<(), ConfigError> {
    let mut cluster_name = Some(std::mem::take(&mut slot.cluster_name));
    let (mut role_arn, mut profile) = (slot.role_arn.take(), slot.profile.take());
    decode_object(
        value,
        path,
        &["clusterName", "roleARN", "profile"],
        |name, item, path| {
            let target = match name {
                "clusterName" => &mut cluster_name,
                "roleARN" => &mut role_arn,
                _ => &mut profile,
            };
            decode_string(target, item, path)
        },
    )?;
    slot.cluster_name = cluster_name.unwrap_or_default();
    // argocd-k8s-auth passes --role-arn (and --profile) only when not empty.
    slot.role_arn = role_arn.filter(|text| !text.is_empty());
    slot.profile = profile.filter(|text| !text.is_empty());
    Ok(())
}

/// A Go `[]byte` field: a standard base64 string with padding (line breaks are skipped).
fn check_bytes(value: &Json, path: &str) -> Result<Option<String>, ConfigError> {
    use base64::Engine as _;
    match value {
        Json::Null => Ok(None),
        Json::String(text) => {
            let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
            base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .map_err(|e| ConfigError(format!("{path} is not base64: {e}")))?;
            Ok(Some(text.clone()))
        }
        other => Err(type_error(path, "a base64 string", other)),
    }
}

/// A Go `bool` field: null leaves it alone.
fn decode_bool(slot: &mut bool, value: &Json, path: &str) -> Result<(), ConfigError> {
    match value {
        Json::Null => Ok(()),
        Json::Bool(flag) => {
            *slot = *flag;
            Ok(())
        }
        other => Err(type_error(path, "true or false", other)),
    }
}

const TLS_FIELDS: [&str; 5] = ["insecure", "serverName", "certData", "keyData", "caData"];

fn decode_tls(slot: &mut TlsClientConfig, value: &Json, path: &str) -> Result<(), ConfigError> {
    decode_object(value, path, &TLS_FIELDS, |name, item, path| match name {
        "insecure" => decode_bool(&mut slot.insecure, item, path),
        "serverName" => decode_string(&mut None, item, path),
        "caData" => {
            if let Some(text) = check_bytes(item, path)? {
                slot.ca_data = Some(text);
            }
            Ok(())
        }
        _ => check_bytes(item, path).map(drop),
    })
}

/// ClusterConfig's fields; the ones this tool does not use are only checked for their type.
const CONFIG_FIELDS: [&str; 8] = [
    "awsAuthConfig",
    "tlsClientConfig",
    "username",
    "password",
    "bearerToken",
    "proxyUrl",
    "disableCompression",
    "execProviderConfig",
];

/// Decode `config` as Argo CD does. An empty text is no config at all (Argo CD then uses none).
pub(crate) fn decode_cluster_config(text: &str) -> Result<ClusterConfig, ConfigError> {
    let mut config = ClusterConfig {
        aws_auth_config: None,
        tls_client_config: TlsClientConfig::default(),
    };
    if text.is_empty() {
        return Ok(config);
    }
    let value: Json =
        serde_json::from_str(text).map_err(|e| ConfigError(format!("config is not JSON: {e}")))?;
    if value == Json::Null {
        return Ok(config);
    }
    decode_object(
        &value,
        "config",
        &CONFIG_FIELDS,
        |name, item, path| match (name, item) {
            ("awsAuthConfig", Json::Null) => {
                config.aws_auth_config = None;
                Ok(())
            }
            ("awsAuthConfig", _) => {
                let slot = config.aws_auth_config.get_or_insert(AwsAuthConfig {
                    cluster_name: String::new(),
                    role_arn: None,
                    profile: None,
                });
                decode_aws_auth(slot, item, path)
            }
            (_, Json::Null) => Ok(()),
            ("tlsClientConfig", _) => decode_tls(&mut config.tls_client_config, item, path),
            ("disableCompression", _) => decode_bool(&mut false, item, path),
            ("execProviderConfig", Json::Object(_)) => Ok(()),
            ("execProviderConfig", other) => Err(type_error(path, "an object", other)),
            _ => decode_string(&mut None, item, path),
        },
    )?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "LS0tLS1CRUdJTg==";

    fn aws(text: &str) -> Option<AwsAuthConfig> {
        decode_cluster_config(text).unwrap().aws_auth_config
    }

    #[test]
    fn keys_match_in_any_case_as_go_does() {
        for key in ["roleARN", "roleArn", "rolearn", "ROLEARN", "RoleArn"] {
            let text = format!(
                r#"{{"awsAuthConfig":{{"clusterName":"prod","{key}":"arn:aws:iam::210987654321:role/deployer"}}}}"#
            );
            assert_eq!(
                aws(&text).unwrap().role_arn.as_deref(),
                Some("arn:aws:iam::210987654321:role/deployer"),
                "{key}"
            );
        }
        let text = r#"{"AWSAuthConfig":{"ClusterName":"prod"},"TLSClientConfig":{"CAData":"LS0tLS1CRUdJTg=="}}"#;
        let config = decode_cluster_config(text).unwrap();
        assert_eq!(config.aws_auth_config.unwrap().cluster_name, "prod");
        assert_eq!(config.tls_client_config.ca_data.as_deref(), Some(CA));
        // Go's folding: the Kelvin sign is a k, the long s an s; other look-alikes are not.
        assert!(go_key_matches("\u{212A}eyData", "keyData"));
        assert!(go_key_matches("cluſterName", "clusterName"));
        assert!(!go_key_matches("role_arn", "roleARN"));
        assert!(!go_key_matches("roleARNs", "roleARN"));
    }

    #[test]
    fn later_keys_win_and_objects_merge_like_go() {
        let text = r#"{"awsAuthConfig":{"clusterName":"a","roleARN":"arn:aws:iam::1:role/x"},
                       "awsauthconfig":{"rolearn":"arn:aws:iam::1:role/y"}}"#;
        let auth = aws(text).unwrap();
        assert_eq!(auth.cluster_name, "a");
        assert_eq!(auth.role_arn.as_deref(), Some("arn:aws:iam::1:role/y"));
        let text = r#"{"awsAuthConfig":{"clusterName":"a"},"awsAuthConfig":null}"#;
        assert_eq!(aws(text), None);
        let text = r#"{"awsAuthConfig":{"clusterName":"a","roleARN":null}}"#;
        assert_eq!(aws(text).unwrap().role_arn, None);
    }

    #[test]
    fn an_empty_role_arn_is_direct_mode() {
        let text = r#"{"awsAuthConfig":{"clusterName":"prod","roleARN":""}}"#;
        let auth = aws(text).unwrap();
        assert_eq!((auth.cluster_name.as_str(), auth.role_arn), ("prod", None));
    }

    #[test]
    fn wrong_types_make_the_secret_unreadable_for_argo_cd() {
        for text in [
            r#"{"awsAuthConfig":{"clusterName":7}}"#,
            r#"{"awsAuthConfig":"prod"}"#,
            r#"{"tlsClientConfig":{"insecure":"false"}}"#,
            r#"{"tlsClientConfig":{"caData":"not base64!"}}"#,
            r#"{"bearerToken":5}"#,
            r#"[]"#,
            "{",
        ] {
            let error = decode_cluster_config(text).unwrap_err();
            assert!(
                error.to_string().starts_with("Argo CD cannot read"),
                "{text}: {error}"
            );
        }
        // Unknown keys and an empty config are fine.
        assert_eq!(
            aws(r#"{"bearerToken":"x","awsAuthConfig":{"clusterName":"p","extra":1}}"#)
                .unwrap()
                .cluster_name,
            "p"
        );
        assert_eq!(decode_cluster_config("").unwrap().aws_auth_config, None);
    }
}
