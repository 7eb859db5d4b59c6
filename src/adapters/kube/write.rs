//! The hub's writes: server-side apply of Secrets and annotations under this tool's field
//! manager, deletes, and rollout restarts; each may be a server-side dry run.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::objects::{manifest, observed_secret, observed_service_account, owned_keys};
use super::{KubeHub, RESTARTED_AT, apply_params, found, kube_error, list};
use crate::core::model::{ObservedServiceAccount, SECRET_TYPE_LABEL, SaRef};
use crate::core::secret::{DesiredSecret, ObservedSecret};
use crate::error::{Error, Result};
use crate::ports::{Annotation, HubWrite, Workload, WorkloadKind, Write};

impl HubWrite for KubeHub {
    async fn apply_secret(&self, secret: &DesiredSecret, write: Write) -> Result<ObservedSecret> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &secret.namespace);
        let applied = api
            .patch(
                &secret.name,
                &apply_params(write),
                &Patch::Apply(&manifest(secret)),
            )
            .await
            .map_err(|e| {
                kube_error(
                    format!("apply Secret {}/{}", secret.namespace, secret.name),
                    e,
                )
            })?;
        Ok(observed_secret(&applied))
    }

    async fn annotate_service_account(
        &self,
        service_account: &SaRef,
        annotation: Annotation<'_>,
        resource_version: Option<&str>,
        write: Write,
    ) -> Result<ObservedServiceAccount> {
        let action = || format!("annotate ServiceAccount {service_account}");
        // Only this one annotation: server-side apply keeps every other field and annotation;
        // the resourceVersion makes it a compare-and-swap (409 when the object changed since).
        let mut annotations = serde_json::Map::new();
        annotations.insert(annotation.key.to_owned(), annotation.value.into());
        if let Some(version) = resource_version {
            match self
                .apply_annotations_at(service_account, annotations.clone(), Some(version), write)
                .await
            {
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    // Changed since the plan read it (a label, a token, another tool): read
                    // once and write only if the annotation is still what the plan saw.
                }
                answer => return answer.map_err(|e| kube_error(action(), e)),
            }
        }
        let api: Api<ServiceAccount> =
            Api::namespaced(self.client.clone(), &service_account.namespace);
        let current = found(api.get(&service_account.name).await, action)?;
        let metadata = current.map(|sa| sa.metadata).unwrap_or_default();
        let now = metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotation.key));
        if now.map(String::as_str) != annotation.expected {
            return Err(Error::Conflict {
                what: format!(
                    "ServiceAccount {service_account} annotation {} changed since this run read it (now {})",
                    annotation.key,
                    now.map_or("absent", String::as_str)
                ),
                fix: "It was left as it is. Run the same command again to see the plan against it"
                    .into(),
            });
        }
        self.apply_annotations_at(
            service_account,
            annotations,
            metadata.resource_version.as_deref(),
            write,
        )
        .await
        .map_err(|e| kube_error(action(), e))
    }

    async fn restart_workloads(
        &self,
        namespace: &str,
        workloads: &[Workload],
        write: Write,
    ) -> Result<Vec<String>> {
        let mut restarted = Vec::new();
        for workload in workloads {
            let found = match workload.kind {
                WorkloadKind::StatefulSet => {
                    self.restart::<StatefulSet>(namespace, workload.name, write)
                        .await?
                }
                WorkloadKind::Deployment => {
                    self.restart::<Deployment>(namespace, workload.name, write)
                        .await?
                }
            };
            if found {
                restarted.push(format!("{}/{}", workload.kind.resource(), workload.name));
            }
        }
        Ok(restarted)
    }

    async fn delete_secret(&self, namespace: &str, name: &str, write: Write) -> Result<bool> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let params = kube::api::DeleteParams {
            dry_run: write == Write::ServerDryRun,
            ..kube::api::DeleteParams::default()
        };
        let deleted = found(api.delete(name, &params).await, || {
            format!("delete Secret {namespace}/{name}")
        })?;
        Ok(deleted.is_some())
    }

    async fn unregister_secret(&self, namespace: &str, name: &str, write: Write) -> Result<bool> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let patch = serde_json::json!({"metadata": {"labels": {SECRET_TYPE_LABEL: null}}});
        let params = PatchParams {
            dry_run: write == Write::ServerDryRun,
            ..PatchParams::default()
        };
        let patched = found(
            api.patch(name, &params, &Patch::Merge(&patch)).await,
            || {
                format!(
                    "unregister Secret {namespace}/{name} (remove its {SECRET_TYPE_LABEL} label)"
                )
            },
        )?;
        Ok(patched.is_some())
    }

    async fn remove_service_account_annotation(
        &self,
        service_account: &SaRef,
        key: &str,
        write: Write,
    ) -> Result<()> {
        let api: Api<ServiceAccount> =
            Api::namespaced(self.client.clone(), &service_account.namespace);
        let current = found(api.get(&service_account.name).await, || {
            format!("read ServiceAccount {service_account}")
        })?;
        let Some(current) = current else {
            return Ok(());
        };
        // Apply what this manager still wants (its other annotations, at their values), so the
        // server drops `key` from its set: gone when no one else owns it, kept when someone does.
        let values = current.metadata.annotations.clone().unwrap_or_default();
        let keep: serde_json::Map<String, serde_json::Value> =
            owned_keys(&current.metadata, &["f:metadata", "f:annotations"])
                .into_iter()
                .filter(|owned| owned != key)
                .filter_map(|owned| values.get(&owned).map(|v| (owned, v.clone().into())))
                .collect();
        self.apply_annotations(service_account, keep, write, || {
            format!("remove annotation {key} from ServiceAccount {service_account}")
        })
        .await
    }
}

impl KubeHub {
    pub(super) async fn namespaced_service_accounts(
        &self,
        namespace: &str,
    ) -> Result<Vec<ServiceAccount>> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        list(api, &ListParams::default(), || {
            format!("list ServiceAccounts in namespace {namespace}")
        })
        .await
    }

    /// Server-side apply of `service_account` with exactly `annotations` (none: the key is
    /// left out), as this tool's field manager; errors say it tried to `action`.
    pub(super) async fn apply_annotations(
        &self,
        service_account: &SaRef,
        annotations: serde_json::Map<String, serde_json::Value>,
        write: Write,
        action: impl FnOnce() -> String,
    ) -> Result<()> {
        self.apply_annotations_at(service_account, annotations, None, write)
            .await
            .map(drop)
            .map_err(|e| kube_error(action(), e))
    }

    /// [`Self::apply_annotations`], only while the object is at `resource_version` (when given).
    async fn apply_annotations_at(
        &self,
        service_account: &SaRef,
        annotations: serde_json::Map<String, serde_json::Value>,
        resource_version: Option<&str>,
        write: Write,
    ) -> kube::Result<ObservedServiceAccount> {
        let api: Api<ServiceAccount> =
            Api::namespaced(self.client.clone(), &service_account.namespace);
        let mut metadata = serde_json::json!({
            "name": service_account.name,
            "namespace": service_account.namespace,
        });
        if !annotations.is_empty() {
            metadata["annotations"] = serde_json::Value::Object(annotations);
        }
        if let Some(version) = resource_version {
            metadata["resourceVersion"] = version.into();
        }
        let patch = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata,
        });
        let applied = api
            .patch(
                &service_account.name,
                &apply_params(write),
                &Patch::Apply(&patch),
            )
            .await?;
        Ok(observed_service_account(applied))
    }

    /// Patch the pod template's restartedAt annotation, as `kubectl rollout restart` does.
    pub(super) async fn restart<K>(&self, namespace: &str, name: &str, write: Write) -> Result<bool>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
            RESTARTED_AT: now
        }}}}});
        let params = PatchParams {
            dry_run: write == Write::ServerDryRun,
            ..PatchParams::default()
        };
        let patched = found(
            api.patch(name, &params, &Patch::Merge(&patch)).await,
            || format!("restart {name} in namespace {namespace}"),
        )?;
        Ok(patched.is_some())
    }
}
