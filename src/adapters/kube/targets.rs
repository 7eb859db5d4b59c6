//! Other clusters, reached as Argo CD reaches them (the Secret's CA and a bearer token), and
//! their aws-auth through a kubeconfig context.

use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::{KubeHub, client_for, kube_error};
use crate::error::{Error, Result};
use crate::ports::{AwsAuth, Targets, TokenReview};

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
