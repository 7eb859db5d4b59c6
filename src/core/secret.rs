//! The Argo CD cluster Secret: build the desired one, read an existing one as Argo CD does,
//! compare them. Plain types: the kube adapter turns them into Kubernetes objects and back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::argocd_config::{ConfigError, decode_cluster_config};
use super::model::{
    ClusterArn, EksCluster, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RoleArn, SECRET_TYPE_CLUSTER,
    SECRET_TYPE_LABEL,
};

/// Argo CD's `ClusterConfig`, limited to the fields this tool writes (names are Argo CD's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterConfig {
    #[serde(rename = "awsAuthConfig", skip_serializing_if = "Option::is_none")]
    pub(crate) aws_auth_config: Option<AwsAuthConfig>,
    #[serde(rename = "tlsClientConfig", default)]
    pub(crate) tls_client_config: TlsClientConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AwsAuthConfig {
    #[serde(rename = "clusterName")]
    pub(crate) cluster_name: String,
    #[serde(rename = "roleARN", default, skip_serializing_if = "Option::is_none")]
    pub(crate) role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TlsClientConfig {
    #[serde(default)]
    pub(crate) insecure: bool,
    #[serde(rename = "caData", default, skip_serializing_if = "Option::is_none")]
    pub(crate) ca_data: Option<String>,
}

/// Everything the user chose about one registration's Secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SecretOptions {
    pub(crate) namespace: String,
    /// `--secret-name`; default derived from the cluster ARN.
    pub(crate) secret_name: Option<String>,
    /// `--name`; default the cluster ARN.
    pub(crate) display_name: Option<String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) project: Option<String>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) cluster_resources: bool,
}

/// The Secret the tool wants to exist for one target cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DesiredSecret {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    /// The Secret's `data`, as strings.
    pub(crate) data: BTreeMap<String, String>,
}

/// Name for a cluster's Secret: unique across accounts and regions, stable, a DNS-1123 subdomain.
pub(crate) fn default_secret_name(arn: &ClusterArn) -> String {
    let digest = Sha256::digest(arn.to_string().as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let cluster: String = arn
        .name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    format!("eks-{cluster}-{}-{hash}", arn.region)
}

/// Argo CD's annotation on the Secrets it made itself, and its value (common.AnnotationKeyManagedBy).
pub(crate) const ARGOCD_MANAGED_BY_ANNOTATION: &str = "managed-by";
pub(crate) const ARGOCD_MANAGED_BY_VALUE: &str = "argocd.argoproj.io";

/// The name `argocd cluster add` gives the Secret of `server` (util/db URIToSecretName):
/// `cluster-<host, lower case, no port>-<FNV-32a of the URL, decimal>`.
pub(crate) fn argocd_secret_name(server: &str) -> Option<String> {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))?;
    let host = rest.split('/').next()?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?.replace(':', "-"),
        None => host.split(':').next()?.to_owned(),
    };
    let hash = server.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    Some(format!("cluster-{}-{hash}", host.to_ascii_lowercase()))
}

/// Whether `name` is a valid DNS-1123 subdomain (what Kubernetes requires of a Secret's name).
pub(crate) fn valid_secret_name(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
}

/// The `config` value: Argo CD authenticates with `argocd-k8s-auth aws`, TLS always verified.
pub(crate) fn cluster_config(cluster: &EksCluster, target_role: Option<&RoleArn>) -> ClusterConfig {
    ClusterConfig {
        aws_auth_config: Some(AwsAuthConfig {
            cluster_name: cluster.arn.name.clone(),
            role_arn: target_role.map(ToString::to_string),
            profile: None,
        }),
        tls_client_config: TlsClientConfig {
            insecure: false,
            ca_data: Some(cluster.ca_data.clone()),
        },
    }
}

/// The desired Secret for `cluster`, reached through `target_role` (None: direct mode).
pub(crate) fn desired_secret(
    cluster: &EksCluster,
    target_role: Option<&RoleArn>,
    options: &SecretOptions,
) -> DesiredSecret {
    // Invariant: ClusterConfig holds only strings and bools, which always serialize.
    let config = serde_json::to_string(&cluster_config(cluster, target_role))
        .expect("ClusterConfig serializes");
    let server = cluster.endpoint.trim_end_matches('/').to_owned();
    build_secret(cluster, server, Some(config), options)
}

/// The Secret AWS's managed Argo CD (the EKS Argo CD capability) reads: `server` is the
/// cluster's ARN and there is no `config`; its capability role reaches the cluster.
pub(crate) fn desired_capability_secret(
    cluster: &EksCluster,
    options: &SecretOptions,
) -> DesiredSecret {
    build_secret(cluster, cluster.arn.to_string(), None, options)
}

fn build_secret(
    cluster: &EksCluster,
    server: String,
    config: Option<String>,
    options: &SecretOptions,
) -> DesiredSecret {
    let mut labels = options.labels.clone();
    labels.insert(SECRET_TYPE_LABEL.into(), SECRET_TYPE_CLUSTER.into());
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());

    let mut data = BTreeMap::new();
    data.insert(
        "name".to_owned(),
        options
            .display_name
            .clone()
            .unwrap_or_else(|| cluster.arn.to_string()),
    );
    data.insert("server".to_owned(), server);
    if let Some(config) = config {
        data.insert("config".to_owned(), config);
    }
    if let Some(project) = &options.project {
        data.insert("project".to_owned(), project.clone());
    }
    if !options.namespaces.is_empty() {
        data.insert("namespaces".to_owned(), options.namespaces.join(","));
    }
    if options.cluster_resources {
        data.insert("clusterResources".to_owned(), "true".to_owned());
    }

    DesiredSecret {
        namespace: options.namespace.clone(),
        name: options
            .secret_name
            .clone()
            .unwrap_or_else(|| default_secret_name(&cluster.arn)),
        labels,
        annotations: options.annotations.clone(),
        data,
    }
}

/// An existing Secret as read from the hub, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ObservedSecret {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) data: BTreeMap<String, String>,
    /// Data keys, label keys and annotation keys that this tool's field manager owns.
    pub(crate) owned: OwnedFields,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct OwnedFields {
    pub(crate) data: Vec<String>,
    pub(crate) labels: Vec<String>,
    pub(crate) annotations: Vec<String>,
}

impl ObservedSecret {
    pub(crate) fn managed_by_us(&self) -> bool {
        self.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
    }

    /// Made by Argo CD itself (`argocd cluster add`): util/db annotates its own Secrets
    /// `managed-by: argocd.argoproj.io` and names them `cluster-<host>-<FNV-32a of the server>`.
    /// Only such Secrets does `argocd cluster rm` delete; from others it removes the
    /// `argocd.argoproj.io/secret-type` label.
    pub(crate) fn made_by_argocd(&self) -> bool {
        self.annotations
            .get(ARGOCD_MANAGED_BY_ANNOTATION)
            .map(String::as_str)
            == Some(ARGOCD_MANAGED_BY_VALUE)
            || self
                .server()
                .is_some_and(|server| argocd_secret_name(server).as_deref() == Some(&self.name))
    }

    /// `server` as Argo CD reads it (trailing `/` trimmed).
    pub(crate) fn server(&self) -> Option<&str> {
        self.data.get("server").map(|s| s.trim_end_matches('/'))
    }

    /// `config` as Argo CD decodes it (Go's encoding/json: keys in any case, an empty roleARN
    /// is none); None when there is no `config` or Argo CD cannot read it.
    pub(crate) fn config(&self) -> Option<ClusterConfig> {
        self.data
            .get("config")
            .and_then(|text| decode_cluster_config(text).ok())
    }

    /// Why Argo CD cannot read this Secret's `config` (it then ignores the whole Secret).
    pub(crate) fn config_error(&self) -> Option<ConfigError> {
        decode_cluster_config(self.data.get("config")?).err()
    }
}

/// What differs between the desired Secret and the one on the hub; empty means unchanged.
pub(crate) fn secret_differences(
    desired: &DesiredSecret,
    observed: &ObservedSecret,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (key, want) in &desired.data {
        let have = observed.data.get(key);
        let same = match key.as_str() {
            "config" => {
                have.and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
                    == serde_json::from_str::<serde_json::Value>(want).ok()
            }
            "server" => observed.server() == Some(want.as_str()),
            _ => have == Some(want),
        };
        if !same {
            differences.push(format!("data.{key}"));
        }
    }
    let compare_map = |kind: &str,
                       want: &BTreeMap<String, String>,
                       have: &BTreeMap<String, String>,
                       owned: &[String],
                       differences: &mut Vec<String>| {
        for (key, value) in want {
            if have.get(key) != Some(value) {
                differences.push(format!("{kind} {key}"));
            }
        }
        // Fields this tool applied before but no longer wants: applying drops them.
        for key in owned {
            if !want.contains_key(key) && have.contains_key(key) {
                differences.push(format!("{kind} {key} (removed)"));
            }
        }
    };
    for key in &observed.owned.data {
        if !desired.data.contains_key(key) && observed.data.contains_key(key) {
            differences.push(format!("data.{key} (removed)"));
        }
    }
    compare_map(
        "label",
        &desired.labels,
        &observed.labels,
        &observed.owned.labels,
        &mut differences,
    );
    compare_map(
        "annotation",
        &desired.annotations,
        &observed.annotations,
        &observed.owned.annotations,
        &mut differences,
    );
    differences
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::AuthenticationMode;

    pub(crate) fn cluster(name: &str, region: &str) -> EksCluster {
        EksCluster {
            arn: ClusterArn::new("aws", region, "123456789012", name),
            endpoint: format!("https://ABC.gr7.{region}.eks.amazonaws.com"),
            ca_data: "LS0tLS1CRUdJTi0tLS0t".into(),
            status: "ACTIVE".into(),
            version: Some("1.33".into()),
            oidc_issuer: None,
            authentication_mode: Some(AuthenticationMode::Api),
            auto_mode: false,
            tags: std::collections::BTreeMap::new(),
        }
    }

    fn options() -> SecretOptions {
        SecretOptions {
            namespace: "argocd".into(),
            ..SecretOptions::default()
        }
    }

    #[test]
    fn default_name_is_stable_unique_and_valid() {
        let a = ClusterArn::new("aws", "eu-west-1", "123456789012", "Prod_EU");
        let b = ClusterArn::new("aws", "eu-west-1", "210987654321", "Prod_EU");
        assert_eq!(default_secret_name(&a), default_secret_name(&a));
        assert_ne!(default_secret_name(&a), default_secret_name(&b));
        assert!(default_secret_name(&a).starts_with("eks-prod-eu-eu-west-1-"));
        assert!(valid_secret_name(&default_secret_name(&a)));
        let longest = ClusterArn::new("aws", "ap-southeast-4", "123456789012", &"a".repeat(100));
        assert!(valid_secret_name(&default_secret_name(&longest)));
    }

    #[test]
    fn secret_names_are_validated() {
        assert!(valid_secret_name("prod.eks-1"));
        for bad in ["", "Prod", "-a", "a-", "a..b", "a_b"] {
            assert!(!valid_secret_name(bad), "{bad}");
        }
    }

    #[test]
    fn chained_secret_has_design_shape() {
        let role = RoleArn::parse("arn:aws:iam::210987654321:role/deployer").unwrap();
        let secret = desired_secret(&cluster("prod", "eu-west-1"), Some(&role), &options());
        assert_eq!(secret.labels[SECRET_TYPE_LABEL], "cluster");
        assert_eq!(secret.labels[MANAGED_BY_LABEL], "kubectl-argocd-eks");
        assert_eq!(
            secret.data["name"],
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod"
        );
        assert_eq!(
            secret.data["server"],
            "https://ABC.gr7.eu-west-1.eks.amazonaws.com"
        );
        assert_eq!(
            secret.data["config"],
            r#"{"awsAuthConfig":{"clusterName":"prod","roleARN":"arn:aws:iam::210987654321:role/deployer"},"tlsClientConfig":{"insecure":false,"caData":"LS0tLS1CRUdJTi0tLS0t"}}"#
        );
        assert!(!secret.data.contains_key("project"));
    }

    #[test]
    fn direct_secret_omits_role_arn() {
        let secret = desired_secret(&cluster("prod", "eu-west-1"), None, &options());
        let config: serde_json::Value = serde_json::from_str(&secret.data["config"]).unwrap();
        assert_eq!(
            config["awsAuthConfig"],
            serde_json::json!({"clusterName": "prod"})
        );
    }

    #[test]
    fn optional_fields_are_written_when_asked() {
        let options = SecretOptions {
            project: Some("platform".into()),
            namespaces: vec!["a".into(), "b".into()],
            cluster_resources: true,
            display_name: Some("prod".into()),
            labels: BTreeMap::from([("env".into(), "prod".into())]),
            ..options()
        };
        let secret = desired_secret(&cluster("prod", "eu-west-1"), None, &options);
        assert_eq!(secret.data["project"], "platform");
        assert_eq!(secret.data["namespaces"], "a,b");
        assert_eq!(secret.data["clusterResources"], "true");
        assert_eq!(secret.data["name"], "prod");
        assert_eq!(secret.labels["env"], "prod");
    }

    fn observed_from(desired: &DesiredSecret) -> ObservedSecret {
        ObservedSecret {
            namespace: desired.namespace.clone(),
            name: desired.name.clone(),
            labels: desired.labels.clone(),
            annotations: desired.annotations.clone(),
            data: desired.data.clone(),
            owned: OwnedFields {
                data: desired.data.keys().cloned().collect(),
                labels: desired.labels.keys().cloned().collect(),
                annotations: vec![],
            },
        }
    }

    #[test]
    fn identical_secret_has_no_differences_even_with_others_fields() {
        let desired = desired_secret(&cluster("prod", "eu-west-1"), None, &options());
        let mut observed = observed_from(&desired);
        observed.data.insert("shard".into(), "1".into());
        observed.labels.insert("team".into(), "someone-else".into());
        // Same JSON, other formatting; server with a trailing slash.
        observed.data.insert(
            "config".into(),
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(&desired.data["config"]).unwrap(),
            )
            .unwrap(),
        );
        let server = format!("{}/", desired.data["server"]);
        observed.data.insert("server".into(), server);
        assert_eq!(
            secret_differences(&desired, &observed),
            Vec::<String>::new()
        );
    }

    #[test]
    fn changed_ca_and_dropped_owned_field_are_differences() {
        let with_project = SecretOptions {
            project: Some("p".into()),
            ..options()
        };
        let before = desired_secret(&cluster("prod", "eu-west-1"), None, &with_project);
        let observed = observed_from(&before);
        let mut rotated = cluster("prod", "eu-west-1");
        rotated.ca_data = "TkVXQ0E=".into();
        let desired = desired_secret(&rotated, None, &options());
        assert_eq!(
            secret_differences(&desired, &observed),
            vec!["data.config", "data.project (removed)"]
        );
    }

    #[test]
    fn capability_secret_names_the_cluster_by_arn_without_config() {
        let secret = desired_capability_secret(&cluster("prod", "eu-west-1"), &options());
        assert_eq!(
            secret.data["server"],
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod"
        );
        assert!(!secret.data.contains_key("config"));
        assert_eq!(secret.labels[SECRET_TYPE_LABEL], "cluster");
    }
}
