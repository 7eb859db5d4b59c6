//! The hub's reads: cluster Secrets, Argo CD's service accounts and pods, access reviews.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};

use super::objects::{observed_secret, observed_service_account, owned_keys};
use super::{KubeHub, RESTARTED_AT, cluster_secrets, found, kube_error, list};
use crate::core::model::{
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, ObservedServiceAccount, PodFacts, SECRET_TYPE_LABEL,
};
use crate::core::rbac::{ResourceRule, RulesReview};
use crate::core::secret::ObservedSecret;
use crate::error::Result;
use crate::ports::{HubContext, HubRead, Workload, WorkloadKind};

impl KubeHub {
    /// The names of the hub's namespaces (for completion).
    pub(crate) async fn namespace_names(&self) -> Result<Vec<String>> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let namespaces = list(api, &ListParams::default(), || "list namespaces".into()).await?;
        Ok(namespaces
            .into_iter()
            .filter_map(|namespace| namespace.metadata.name)
            .collect())
    }
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
            .map(observed_service_account)
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

    async fn unregistered_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},!{SECRET_TYPE_LABEL}");
        let secrets = list(api, &ListParams::default().labels(&selector), || {
            format!("list this tool's unregistered Secrets in namespace {namespace}")
        })
        .await?;
        Ok(secrets.iter().map(observed_secret).collect())
    }

    async fn daemon_set_exists(&self, namespace: &str, name: &str) -> Result<bool> {
        use k8s_openapi::api::apps::v1::DaemonSet;
        let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), namespace);
        let found = found(api.get_metadata(name).await, || {
            format!("read DaemonSet {namespace}/{name}")
        })?;
        Ok(found.is_some())
    }

    async fn workloads_restarted_at(
        &self,
        namespace: &str,
        workloads: &[Workload],
    ) -> Result<Vec<(String, i64)>> {
        use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
        let mut found_at = Vec::new();
        for workload in workloads {
            let name = workload.name;
            let action = || format!("read {} {namespace}/{name}", workload.kind.resource());
            let (meta, template) = match workload.kind {
                WorkloadKind::StatefulSet => {
                    let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
                    found(api.get(name).await, action)?
                        .map(|s| (s.metadata, s.spec.and_then(|spec| spec.template.metadata)))
                }
                WorkloadKind::Deployment => {
                    let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
                    found(api.get(name).await, action)?
                        .map(|d| (d.metadata, d.spec.and_then(|spec| spec.template.metadata)))
                }
            }
            .map_or((None, None), |(meta, template)| (Some(meta), template));
            let Some(meta) = meta else { continue };
            let restarted = template
                .and_then(|t| t.annotations)
                .and_then(|a| a.get(RESTARTED_AT).cloned())
                .and_then(|text| text.parse::<k8s_openapi::jiff::Timestamp>().ok())
                .map(|time| time.as_second());
            let created = meta.creation_timestamp.map(|time| time.0.as_second());
            if let Some(at) = restarted.or(created) {
                found_at.push((format!("{}/{name}", workload.kind.resource()), at));
            }
        }
        Ok(found_at)
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

    async fn rules_review(&self, namespace: &str) -> Result<RulesReview> {
        let api: Api<SelfSubjectRulesReview> = Api::all(self.client.clone());
        let review = SelfSubjectRulesReview {
            spec: SelfSubjectRulesReviewSpec {
                namespace: Some(namespace.to_owned()),
            },
            ..SelfSubjectRulesReview::default()
        };
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| kube_error(format!("review your RBAC in namespace {namespace}"), e))?;
        // No status, or an evaluation error: the rules cannot be trusted to be all there are.
        let Some(status) = answer.status else {
            return Ok(RulesReview {
                rules: Vec::new(),
                incomplete: true,
            });
        };
        Ok(RulesReview {
            incomplete: status.incomplete || status.evaluation_error.is_some(),
            rules: status
                .resource_rules
                .into_iter()
                .map(|rule| ResourceRule {
                    verbs: rule.verbs,
                    api_groups: rule.api_groups.unwrap_or_default(),
                    resources: rule.resources.unwrap_or_default(),
                    resource_names: rule.resource_names.unwrap_or_default(),
                })
                .collect(),
        })
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
