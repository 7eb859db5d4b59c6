//! The hub behind kube::Client: reads, server-side apply, and access reviews.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::objects::{annotation_written_at, manifest, observed_secret, owned_keys};
use crate::core::model::{
    FIELD_MANAGER, IRSA_ANNOTATION, ObservedServiceAccount, PodFacts, SECRET_TYPE_CLUSTER,
    SECRET_TYPE_LABEL, SaRef,
};
use crate::core::secret::{DesiredSecret, ObservedSecret};
use crate::error::{Error, Result};
use crate::ports::{
    AwsAuth, HubContext, HubRead, HubWrite, Targets, TokenReview, Workload, WorkloadKind, Write,
};

pub(crate) struct KubeHub {
    client: Client,
    context: HubContext,
    /// The kubeconfig as read, to reach other clusters it has contexts for.
    kubeconfig: Kubeconfig,
}

impl KubeHub {
    /// Connect to the hub named by `--kubeconfig` (else KUBECONFIG, several paths merged, else
    /// ~/.kube/config) and `--context` (else the current context).
    pub(crate) async fn connect(
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
    ) -> Result<Self> {
        let file = match kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|e| Error::Kubeconfig {
            message: e.to_string(),
            source: Some(Box::new(e)),
        })?;
        let hub_context = describe_context(&file, context)?;
        let client = client_for(file.clone(), &hub_context.context).await?;
        Ok(KubeHub {
            client,
            context: hub_context,
            kubeconfig: file,
        })
    }
}

/// A client for context `context` of kubeconfig `file`.
async fn client_for(file: Kubeconfig, context: &str) -> Result<Client> {
    let to_error = |source: crate::error::Cause| Error::Kubeconfig {
        message: source.to_string(),
        source: Some(source),
    };
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(file, &options)
        .await
        .map_err(|e| to_error(Box::new(e)))?;
    Client::try_from(config).map_err(|e| to_error(Box::new(e)))
}

/// The context's name, cluster, server and exec arguments, as the kubeconfig states them.
fn describe_context(file: &Kubeconfig, wanted: Option<&str>) -> Result<HubContext> {
    let name = wanted
        .map(str::to_owned)
        .or_else(|| file.current_context.clone())
        .ok_or_else(|| Error::Kubeconfig {
            message: "there is no current context".into(),
            source: None,
        })?;
    let context = file
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| Error::Kubeconfig {
            message: format!("context {name:?} is not in the kubeconfig"),
            source: None,
        })?;
    let server = file
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default();
    let exec_args = file
        .auth_infos
        .iter()
        .find(|a| Some(&a.name) == context.user.as_ref())
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref())
        .map(|exec| {
            exec.command
                .iter()
                .cloned()
                .chain(exec.args.iter().flatten().cloned())
                .collect()
        })
        .unwrap_or_default();
    Ok(HubContext {
        context: name,
        cluster: context.cluster.clone(),
        server,
        exec_args,
    })
}

/// Turn a kube error into one that says what to do; 403 is a permission problem.
fn kube_error(action: String, error: kube::Error) -> Error {
    if let kube::Error::Api(status) = &error
        && status.code == 403
    {
        return Error::PermissionDenied {
            what: format!("the hub refused to {action}: {}", status.message),
            fix: "Ask a cluster admin for that RBAC permission (check with kubectl auth can-i), or use --context with an identity that has it".into(),
            source: Some(Box::new(error)),
        };
    }
    Error::Kube {
        action,
        fix: "Check that the hub is reachable with kubectl --context and try again".into(),
        source: Box::new(error),
    }
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The call's result, or None when the object is not there; errors say it tried to `action`.
fn found<T>(result: kube::Result<T>, action: impl FnOnce() -> String) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(kube_error(action(), e)),
    }
}

/// The items of `api` that `params` selects; errors say it tried to `action`.
async fn list<K>(
    api: Api<K>,
    params: &ListParams,
    action: impl FnOnce() -> String,
) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(params).await {
        Ok(list) => Ok(list.items),
        Err(e) => Err(kube_error(action(), e)),
    }
}

/// The cluster Secrets `api` reaches; errors say it tried to `action`.
async fn cluster_secrets(
    api: Api<Secret>,
    action: impl FnOnce() -> String,
) -> Result<Vec<ObservedSecret>> {
    let selector = format!("{SECRET_TYPE_LABEL}={SECRET_TYPE_CLUSTER}");
    let secrets = list(api, &ListParams::default().labels(&selector), action).await?;
    Ok(secrets.iter().map(observed_secret).collect())
}

fn apply_params(write: Write) -> PatchParams {
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = write == Write::ServerDryRun;
    params
}

impl HubRead for KubeHub {
    fn context(&self) -> &HubContext {
        &self.context
    }

    async fn cluster_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>> {
        cluster_secrets(Api::namespaced(self.client.clone(), namespace), || {
            format!("list Secrets in namespace {namespace}")
        })
        .await
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<ObservedSecret>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = found(api.get(name).await, || {
            format!("read Secret {namespace}/{name}")
        })?;
        Ok(secret.map(|secret| observed_secret(&secret)))
    }

    async fn service_accounts(&self, namespace: &str) -> Result<Vec<ObservedServiceAccount>> {
        Ok(self
            .namespaced_service_accounts(namespace)
            .await?
            .into_iter()
            .map(|sa| ObservedServiceAccount {
                irsa_role: sa
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(IRSA_ANNOTATION).cloned()),
                irsa_changed_at: annotation_written_at(&sa.metadata, IRSA_ANNOTATION),
                name: sa.metadata.name.unwrap_or_default(),
            })
            .collect())
    }

    async fn pods(&self, namespace: &str) -> Result<Vec<PodFacts>> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let pods = list(api, &ListParams::default(), || {
            format!("list Pods in namespace {namespace}")
        })
        .await?;
        Ok(pods
            .into_iter()
            .map(|pod| PodFacts {
                service_account: pod
                    .spec
                    .and_then(|spec| spec.service_account_name)
                    .unwrap_or_else(|| "default".to_owned()),
                created: pod
                    .metadata
                    .creation_timestamp
                    .map_or(0, |time| time.0.as_second()),
                name: pod.metadata.name.unwrap_or_default(),
            })
            .collect())
    }

    async fn namespaces_with_service_account(&self, name: &str) -> Result<Vec<String>> {
        let api: Api<ServiceAccount> = Api::all(self.client.clone());
        let params = ListParams::default().fields(&format!("metadata.name={name}"));
        let service_accounts = list(api, &params, || {
            format!("look for ServiceAccount {name} in all namespaces")
        })
        .await?;
        let mut namespaces: Vec<String> = service_accounts
            .into_iter()
            .filter_map(|sa| sa.metadata.namespace)
            .collect();
        namespaces.sort();
        Ok(namespaces)
    }

    async fn can_i(
        &self,
        namespace: &str,
        verb: &str,
        group: &str,
        resource: &str,
    ) -> Result<bool> {
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_owned()),
                    verb: Some(verb.to_owned()),
                    group: Some(group.to_owned()),
                    resource: Some(resource.to_owned()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| kube_error(format!("check whether it may {verb} {resource}"), e))?;
        Ok(answer.status.is_some_and(|status| status.allowed))
    }

    async fn owned_service_account_annotations(
        &self,
        namespace: &str,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        Ok(self
            .namespaced_service_accounts(namespace)
            .await?
            .iter()
            .map(|sa| {
                (
                    sa.metadata.name.clone().unwrap_or_default(),
                    owned_keys(&sa.metadata, &["f:metadata", "f:annotations"]),
                )
            })
            .collect())
    }

    async fn cluster_secrets_in_all_namespaces(&self) -> Result<Vec<ObservedSecret>> {
        cluster_secrets(Api::all(self.client.clone()), || {
            "list cluster Secrets in all namespaces".to_owned()
        })
        .await
    }
}

impl HubWrite for KubeHub {
    async fn apply_secret(&self, secret: &DesiredSecret, write: Write) -> Result<()> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &secret.namespace);
        api.patch(
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
        Ok(())
    }

    async fn annotate_service_account(
        &self,
        service_account: &SaRef,
        key: &str,
        value: &str,
        write: Write,
    ) -> Result<()> {
        // Only this one annotation: server-side apply keeps every other field and annotation.
        let mut annotations = serde_json::Map::new();
        annotations.insert(key.to_owned(), value.into());
        self.apply_annotations(service_account, annotations, write, || {
            format!("annotate ServiceAccount {service_account}")
        })
        .await
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
    async fn namespaced_service_accounts(&self, namespace: &str) -> Result<Vec<ServiceAccount>> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        list(api, &ListParams::default(), || {
            format!("list ServiceAccounts in namespace {namespace}")
        })
        .await
    }

    /// Server-side apply of `service_account` with exactly `annotations` (none: the key is
    /// left out), as this tool's field manager; errors say it tried to `action`.
    async fn apply_annotations(
        &self,
        service_account: &SaRef,
        annotations: serde_json::Map<String, serde_json::Value>,
        write: Write,
        action: impl FnOnce() -> String,
    ) -> Result<()> {
        let api: Api<ServiceAccount> =
            Api::namespaced(self.client.clone(), &service_account.namespace);
        let mut metadata = serde_json::json!({
            "name": service_account.name,
            "namespace": service_account.namespace,
        });
        if !annotations.is_empty() {
            metadata["annotations"] = serde_json::Value::Object(annotations);
        }
        let patch = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata,
        });
        api.patch(
            &service_account.name,
            &apply_params(write),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|e| kube_error(action(), e))?;
        Ok(())
    }

    /// Patch the pod template's restartedAt annotation, as `kubectl rollout restart` does.
    async fn restart<K>(&self, namespace: &str, name: &str, write: Write) -> Result<bool>
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
            "kubectl.kubernetes.io/restartedAt": now
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

/// Target clusters are reached the way Argo CD reaches them: the Secret's CA and a bearer token.
impl Targets for KubeHub {
    async fn aws_auth(&self, server: &str) -> Result<AwsAuth> {
        use k8s_openapi::api::core::v1::ConfigMap;
        let server = server.trim_end_matches('/');
        let cluster = self.kubeconfig.clusters.iter().find(|c| {
            c.cluster
                .as_ref()
                .and_then(|c| c.server.as_deref())
                .is_some_and(|s| s.trim_end_matches('/') == server)
        });
        let context = cluster.and_then(|cluster| {
            let uses = |c: &&kube::config::NamedContext| {
                c.context
                    .as_ref()
                    .is_some_and(|c| c.cluster == cluster.name)
            };
            let contexts = &self.kubeconfig.contexts;
            contexts
                .iter()
                .filter(uses)
                .find(|c| c.name == self.context.context)
                .or_else(|| contexts.iter().find(uses))
        });
        let Some(context) = context else {
            return Ok(AwsAuth::NoContext);
        };
        let client = client_for(self.kubeconfig.clone(), &context.name).await?;
        let api: Api<ConfigMap> = Api::namespaced(client, "kube-system");
        let found = api.get_opt("aws-auth").await.map_err(|e| {
            kube_error(
                format!("read kube-system/aws-auth through context {}", context.name),
                e,
            )
        })?;
        Ok(
            match found.and_then(|map| map.data?.get("mapRoles").cloned()) {
                Some(map_roles) => AwsAuth::MapRoles(map_roles),
                None => AwsAuth::Missing,
            },
        )
    }

    async fn review_token(&self, server: &str, ca_data: &str, token: &str) -> Result<TokenReview> {
        use k8s_openapi::api::authentication::v1::SelfSubjectReview;
        let connect_error = |source: crate::error::Cause| Error::Connect {
            server: server.to_owned(),
            message: source.to_string(),
            source,
        };
        let file = Kubeconfig::from_yaml(&serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "target",
            "clusters": [{"name": "target", "cluster": {
                "server": server, "certificate-authority-data": ca_data}}],
            "users": [{"name": "argocd", "user": {"token": token}}],
            "contexts": [{"name": "target", "context": {"cluster": "target", "user": "argocd"}}],
        }).to_string())
        .map_err(|e| connect_error(Box::new(e)))?;
        let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
            .await
            .map_err(|e| connect_error(Box::new(e)))?;
        let client = Client::try_from(config).map_err(|e| connect_error(Box::new(e)))?;
        let api: Api<SelfSubjectReview> = Api::all(client);
        match api
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await
        {
            Ok(review) => {
                let user = review.status.and_then(|s| s.user_info).unwrap_or_default();
                Ok(TokenReview::Authenticated {
                    username: user.username.unwrap_or_default(),
                    groups: user.groups.unwrap_or_default(),
                })
            }
            Err(kube::Error::Api(status)) if status.code == 401 => Ok(TokenReview::Rejected),
            Err(e) => Err(connect_error(Box::new(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_description_reads_exec_args() {
        let file = Kubeconfig::from_yaml(
            r#"
apiVersion: v1
kind: Config
current-context: hub
clusters:
- name: hub-cluster
  cluster: {server: "https://hub.example"}
contexts:
- name: hub
  context: {cluster: hub-cluster, user: hub-user}
- name: other
  context: {cluster: hub-cluster}
users:
- name: hub-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, argocd-hub]
"#,
        )
        .unwrap();
        let hub = describe_context(&file, None).unwrap();
        assert_eq!(hub.context, "hub");
        assert_eq!(hub.server, "https://hub.example");
        assert_eq!(hub.exec_args[0], "aws");
        assert_eq!(hub.exec_args.last().unwrap(), "argocd-hub");
        assert!(
            describe_context(&file, Some("other"))
                .unwrap()
                .exec_args
                .is_empty()
        );
        assert!(matches!(
            describe_context(&file, Some("nope")),
            Err(Error::Kubeconfig { .. })
        ));
    }
}
