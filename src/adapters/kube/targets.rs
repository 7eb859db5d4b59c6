//! Other clusters, reached as Argo CD reaches them (the Secret's CA and a bearer token), and
//! their aws-auth through a kubeconfig context.

use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::{KubeHub, client_for, client_with, innermost_cause, kube_error, list};
use crate::core::model::GroupBinding;
use crate::error::{Error, Result};
use crate::ports::{AwsAuth, Targets, TokenReview};

impl KubeHub {
    /// A client for the cluster at `server` through a kubeconfig context for it (the hub's
    /// own context first), with that context's name; None when the kubeconfig has none.
    async fn client_for_server(&self, server: &str) -> Result<Option<(Client, String)>> {
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
            return Ok(None);
        };
        let client = client_for(self.kubeconfig.clone(), &context.name, self.timeouts).await?;
        Ok(Some((client, context.name.clone())))
    }
}

/// The groups among a binding's subjects.
fn bound_groups(subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>) -> Vec<String> {
    subjects
        .into_iter()
        .flatten()
        .filter(|subject| subject.kind == "Group")
        .map(|subject| subject.name.clone())
        .collect()
}

/// Target clusters are reached the way Argo CD reaches them: the Secret's CA and a bearer token.
impl Targets for KubeHub {
    async fn aws_auth(&self, server: &str) -> Result<AwsAuth> {
        use k8s_openapi::api::core::v1::ConfigMap;
        let Some((client, context)) = self.client_for_server(server).await? else {
            return Ok(AwsAuth::NoContext);
        };
        let api: Api<ConfigMap> = Api::namespaced(client, "kube-system");
        let found = api.get_opt("aws-auth").await.map_err(|e| {
            kube_error(
                format!("read kube-system/aws-auth through context {context}"),
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

    async fn group_bindings(&self, server: &str) -> Result<Option<Vec<GroupBinding>>> {
        use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
        let Some((client, context)) = self.client_for_server(server).await? else {
            return Ok(None);
        };
        let cluster_bindings = list(
            Api::<ClusterRoleBinding>::all(client.clone()),
            &ListParams::default(),
            || format!("list ClusterRoleBindings through context {context}"),
        )
        .await?;
        let bindings = list(
            Api::<RoleBinding>::all(client),
            &ListParams::default(),
            || format!("list RoleBindings through context {context}"),
        )
        .await?;
        let mut found: Vec<GroupBinding> = cluster_bindings
            .iter()
            .map(|b| GroupBinding {
                binding: format!(
                    "ClusterRoleBinding {}",
                    b.metadata.name.as_deref().unwrap_or_default()
                ),
                role: format!("{} {}", b.role_ref.kind, b.role_ref.name),
                groups: bound_groups(b.subjects.as_ref()),
            })
            .collect();
        found.extend(bindings.iter().map(|b| GroupBinding {
            binding: format!(
                "RoleBinding {}/{}",
                b.metadata.namespace.as_deref().unwrap_or_default(),
                b.metadata.name.as_deref().unwrap_or_default()
            ),
            role: format!("{} {}", b.role_ref.kind, b.role_ref.name),
            groups: bound_groups(b.subjects.as_ref()),
        }));
        found.retain(|b| !b.groups.is_empty());
        Ok(Some(found))
    }

    async fn review_token(&self, server: &str, ca_data: &str, token: &str) -> Result<TokenReview> {
        use k8s_openapi::api::authentication::v1::SelfSubjectReview;
        // The innermost cause says what failed (connection refused, the certificate).
        let connect_error = |source: crate::error::Cause| Error::Connect {
            server: server.to_owned(),
            message: innermost_cause(source.as_ref()),
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
        let client =
            client_with(config, "target", self.timeouts).map_err(|e| connect_error(Box::new(e)))?;
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
