//! Kubernetes objects and the core's plain types: the Secret manifest to apply, a Secret read
//! back, and server-side apply's managedFields (which fields this tool owns, when a field was
//! last written), read here and nowhere else.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::ObjectMeta;

use crate::core::model::{FIELD_MANAGER, IRSA_ANNOTATION, ObservedServiceAccount};
use crate::core::secret::{DesiredSecret, ObservedSecret, OwnedFields};

/// The object sent with server-side apply: only the fields the tool owns.
pub(crate) fn manifest(desired: &DesiredSecret) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(desired.name.clone()),
            namespace: Some(desired.namespace.clone()),
            labels: Some(desired.labels.clone()),
            annotations: (!desired.annotations.is_empty()).then(|| desired.annotations.clone()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(
            desired
                .data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// A service account read from the API server (or answered by a write): its IRSA annotation,
/// when that was last written, and its resourceVersion.
pub(super) fn observed_service_account(sa: ServiceAccount) -> ObservedServiceAccount {
    ObservedServiceAccount {
        irsa_role: sa
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(IRSA_ANNOTATION).cloned()),
        irsa_changed_at: annotation_written_at(&sa.metadata, IRSA_ANNOTATION),
        resource_version: sa.metadata.resource_version,
        name: sa.metadata.name.unwrap_or_default(),
    }
}

/// A Secret read from the API server, decoded, with the fields this tool's field manager owns.
pub(super) fn observed_secret(secret: &Secret) -> ObservedSecret {
    let meta = &secret.metadata;
    let mut data: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    // The API server folds stringData into data on write and never returns it, and Argo CD
    // reads only data (util/db SecretToCluster); an object that was never written (a
    // manifest) may carry stringData, folded here as the server would fold it.
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone());
    }
    ObservedSecret {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        data,
        owned: OwnedFields {
            data: owned_keys(meta, &["f:data"]),
            labels: owned_keys(meta, &["f:metadata", "f:labels"]),
            annotations: owned_keys(meta, &["f:metadata", "f:annotations"]),
        },
    }
}

/// The keys under `path` (e.g. `f:metadata`, `f:annotations`) that this tool's field manager
/// owns through server-side apply.
pub(super) fn owned_keys(meta: &ObjectMeta, path: &[&str]) -> Vec<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry.manager.as_deref() == Some(FIELD_MANAGER)
                && entry.operation.as_deref() == Some("Apply")
        })
        .filter_map(|entry| entry.fields_v1.as_ref())
        .filter_map(|fields| path.iter().try_fold(&fields.0, |node, step| node.get(step)))
        .filter_map(serde_json::Value::as_object)
        .flat_map(|map| map.keys())
        .filter_map(|k| k.strip_prefix("f:").map(str::to_owned))
        .collect()
}

/// When any field manager last wrote annotation `key` (Unix seconds).
pub(super) fn annotation_written_at(meta: &ObjectMeta, key: &str) -> Option<i64> {
    let field = format!("f:{key}");
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry.fields_v1.as_ref().is_some_and(|fields| {
                fields.0["f:metadata"]["f:annotations"]
                    .get(&field)
                    .is_some()
            })
        })
        .filter_map(|entry| entry.time.as_ref().map(|time| time.0.as_second()))
        .max()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;
    use crate::core::secret::{SecretOptions, desired_secret, secret_differences};
    use crate::testing::eks_cluster;

    #[test]
    fn observed_secret_reads_owned_fields_from_managed_fields() {
        let options = SecretOptions {
            namespace: "argocd".into(),
            ..SecretOptions::default()
        };
        let desired = desired_secret(
            &eks_cluster("123456789012", "eu-west-1", "prod"),
            None,
            &options,
        );
        let mut secret = manifest(&desired);
        secret.metadata.managed_fields = Some(vec![
            ManagedFieldsEntry {
                manager: Some("kubectl-argocd-eks".into()),
                operation: Some("Apply".into()),
                fields_v1: Some(FieldsV1(serde_json::json!({
                    "f:data": {"f:config": {}, "f:name": {}, "f:server": {}},
                    "f:metadata": {"f:labels": {"f:argocd.argoproj.io/secret-type": {}}}
                }))),
                ..Default::default()
            },
            ManagedFieldsEntry {
                manager: Some("argocd-server".into()),
                operation: Some("Update".into()),
                fields_v1: Some(FieldsV1(serde_json::json!({"f:data": {"f:shard": {}}}))),
                ..Default::default()
            },
        ]);
        let observed = observed_secret(&secret);
        assert_eq!(observed.owned.data, vec!["config", "name", "server"]);
        assert_eq!(
            observed.owned.labels,
            vec!["argocd.argoproj.io/secret-type"]
        );
        assert!(observed.owned.annotations.is_empty());
        assert!(observed.managed_by_us());
        assert_eq!(observed.data, desired.data);
        assert_eq!(
            secret_differences(&desired, &observed),
            Vec::<String>::new()
        );
    }
}
