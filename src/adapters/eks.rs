//! EKS over aws-sdk-eks: one client per region; clusters, add-ons, pod identity associations and
//! access entries (reads apart from writes).

use aws_sdk_eks::types::{AccessScope as SdkAccessScope, AccessScopeType};

use super::aws::{AwsApi, aws_error, found};
use crate::core::model::{
    AccessEntry, AccessPolicyAssociation, AccessScope, AuthenticationMode, ClusterArn, EksCluster,
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::error::{Error, Result};
use crate::ports::{EksRead, EksWrite};

impl EksRead for AwsApi {
    async fn list_clusters(&self, region: &str) -> Result<Vec<String>> {
        self.client(region)
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error(&self.endpoint(region), "ListClusters", e))
    }

    async fn describe_cluster(&self, region: &str, name: &str) -> Result<Option<EksCluster>> {
        let described = self
            .client(region)
            .describe_cluster()
            .name(name)
            .send()
            .await;
        let Some(output) = found(&self.endpoint(region), "DescribeCluster", described)? else {
            return Ok(None);
        };
        let Some(cluster) = output.cluster() else {
            return Ok(None);
        };
        let arn = cluster
            .arn()
            .and_then(|arn| ClusterArn::parse(arn).ok())
            .ok_or_else(|| Error::Aws {
                operation: "DescribeCluster".into(),
                message: format!("cluster {name} came back without a valid ARN"),
                fix: "This is unexpected from EKS; report it with -vv output".into(),
                source: None,
            })?;
        Ok(Some(EksCluster {
            arn,
            endpoint: cluster.endpoint().unwrap_or_default().to_owned(),
            ca_data: cluster
                .certificate_authority()
                .and_then(|ca| ca.data())
                .unwrap_or_default()
                .to_owned(),
            status: cluster
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            version: cluster.version().map(str::to_owned),
            oidc_issuer: cluster
                .identity()
                .and_then(|i| i.oidc())
                .and_then(|o| o.issuer())
                .map(str::to_owned),
            authentication_mode: cluster
                .access_config()
                .and_then(|a| a.authentication_mode())
                .and_then(|m| AuthenticationMode::parse(m.as_str())),
            auto_mode: cluster
                .compute_config()
                .and_then(|c| c.enabled())
                .unwrap_or(false),
            tags: cluster
                .tags()
                .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }))
    }

    async fn has_addon(&self, cluster: &ClusterArn, addon: &str) -> Result<bool> {
        let result = self
            .client(&cluster.region)
            .describe_addon()
            .cluster_name(&cluster.name)
            .addon_name(addon)
            .send()
            .await;
        Ok(
            found(&self.endpoint(&cluster.region), "DescribeAddon", result)?
                .is_some_and(|output| output.addon().is_some()),
        )
    }

    async fn pod_identity_associations(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
    ) -> Result<Vec<PodIdentityAssociation>> {
        let client = self.client(&cluster.region);
        let summaries = client
            .list_pod_identity_associations()
            .cluster_name(&cluster.name)
            .namespace(namespace)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                aws_error(
                    &self.endpoint(&cluster.region),
                    "ListPodIdentityAssociations",
                    e,
                )
            })?;
        // Each association described at once: they depend on nothing but the list.
        let endpoint = self.endpoint(&cluster.region);
        let described = futures::future::try_join_all(summaries.iter().map(|summary| {
            let id = summary.association_id().unwrap_or_default();
            let (client, endpoint) = (&client, &endpoint);
            async move {
                let described = client
                    .describe_pod_identity_association()
                    .cluster_name(&cluster.name)
                    .association_id(id)
                    .send()
                    .await;
                // None: deleted between the list and the describe.
                found(endpoint, "DescribePodIdentityAssociation", described)
                    .map(|found| found.map(|described| (id, described)))
            }
        }))
        .await?;
        let mut associations = Vec::with_capacity(described.len());
        for (id, described) in described.into_iter().flatten() {
            if let Some(association) = described.association() {
                let managed_by_us = association
                    .tags()
                    .and_then(|tags| tags.get(MANAGED_BY_LABEL))
                    .is_some_and(|value| value == MANAGED_BY_VALUE);
                associations.push(PodIdentityAssociation {
                    id: id.to_owned(),
                    service_account: SaRef::new(
                        association.namespace().unwrap_or(namespace),
                        association.service_account().unwrap_or_default(),
                    ),
                    role_arn: association.role_arn().unwrap_or_default().to_owned(),
                    managed_by_us,
                    changed_at: association
                        .modified_at()
                        .or(association.created_at())
                        .map(|time| time.secs()),
                    target_role_arn: association
                        .target_role_arn()
                        .filter(|arn| !arn.is_empty())
                        .map(str::to_owned),
                    disable_session_tags: association.disable_session_tags().unwrap_or(false),
                    external_id: association.external_id().map(str::to_owned),
                });
            }
        }
        Ok(associations)
    }

    async fn access_entry(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<AccessEntry>> {
        let client = self.client(&cluster.region);
        let endpoint = self.endpoint(&cluster.region);
        // The entry and its policies at once: the list depends only on the entry being there
        // (when it is not, the list's answer is not looked at).
        let (described, policies) = futures::join!(
            client
                .describe_access_entry()
                .cluster_name(&cluster.name)
                .principal_arn(principal_arn)
                .send(),
            client
                .list_associated_access_policies()
                .cluster_name(&cluster.name)
                .principal_arn(principal_arn)
                .into_paginator()
                .items()
                .send()
                .try_collect()
        );
        let Some(described) = found(&endpoint, "DescribeAccessEntry", described)? else {
            return Ok(None);
        };
        let kubernetes_groups = described
            .access_entry()
            .map(|entry| entry.kubernetes_groups().to_vec())
            .unwrap_or_default();
        let policies =
            policies.map_err(|e| aws_error(&endpoint, "ListAssociatedAccessPolicies", e))?;
        Ok(Some(AccessEntry {
            kubernetes_groups,
            policies: policies
                .iter()
                .map(|policy| AccessPolicyAssociation {
                    policy_arn: policy.policy_arn().unwrap_or_default().to_owned(),
                    scope: match policy.access_scope() {
                        Some(scope) if scope.r#type() == Some(&AccessScopeType::Namespace) => {
                            AccessScope::Namespace(scope.namespaces().to_vec())
                        }
                        _ => AccessScope::Cluster,
                    },
                })
                .collect(),
        }))
    }

    async fn access_entry_tags(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>> {
        let described = self
            .client(&cluster.region)
            .describe_access_entry()
            .cluster_name(&cluster.name)
            .principal_arn(principal_arn)
            .send()
            .await;
        Ok(found(
            &self.endpoint(&cluster.region),
            "DescribeAccessEntry",
            described,
        )?
        .map(|output| {
            output
                .access_entry()
                .and_then(|entry| entry.tags())
                .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }
}

impl EksWrite for AwsApi {
    async fn create_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        service_account: &SaRef,
        role: &RoleArn,
        target_role: Option<&RoleArn>,
    ) -> Result<()> {
        self.client(&cluster.region)
            .create_pod_identity_association()
            .cluster_name(&cluster.name)
            .namespace(&service_account.namespace)
            .service_account(&service_account.name)
            .role_arn(role.to_string())
            .set_target_role_arn(target_role.map(ToString::to_string))
            .tags(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &self.endpoint(&cluster.region),
                    "CreatePodIdentityAssociation",
                    e,
                )
            })?;
        Ok(())
    }

    async fn update_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        association_id: &str,
        role: &RoleArn,
        target_role: Option<&RoleArn>,
    ) -> Result<()> {
        self.client(&cluster.region)
            .update_pod_identity_association()
            .cluster_name(&cluster.name)
            .association_id(association_id)
            .role_arn(role.to_string())
            // An empty target role takes native chaining off.
            .target_role_arn(target_role.map(ToString::to_string).unwrap_or_default())
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &self.endpoint(&cluster.region),
                    "UpdatePodIdentityAssociation",
                    e,
                )
            })?;
        Ok(())
    }

    async fn create_access_entry(&self, cluster: &ClusterArn, principal: &RoleArn) -> Result<()> {
        self.client(&cluster.region)
            .create_access_entry()
            .cluster_name(&cluster.name)
            .principal_arn(principal.to_string())
            .tags(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
            .send()
            .await
            .map_err(|e| aws_error(&self.endpoint(&cluster.region), "CreateAccessEntry", e))?;
        Ok(())
    }

    async fn associate_access_policy(
        &self,
        cluster: &ClusterArn,
        principal: &RoleArn,
        policy_arn: &str,
        scope: &AccessScope,
    ) -> Result<()> {
        let sdk_scope = match scope {
            AccessScope::Cluster => SdkAccessScope::builder().r#type(AccessScopeType::Cluster),
            AccessScope::Namespace(namespaces) => SdkAccessScope::builder()
                .r#type(AccessScopeType::Namespace)
                .set_namespaces(Some(namespaces.clone())),
        }
        .build();
        self.client(&cluster.region)
            .associate_access_policy()
            .cluster_name(&cluster.name)
            .principal_arn(principal.to_string())
            .policy_arn(policy_arn)
            .access_scope(sdk_scope)
            .send()
            .await
            .map_err(|e| aws_error(&self.endpoint(&cluster.region), "AssociateAccessPolicy", e))?;
        Ok(())
    }

    async fn delete_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        association_id: &str,
    ) -> Result<bool> {
        let deleted = self
            .client(&cluster.region)
            .delete_pod_identity_association()
            .cluster_name(&cluster.name)
            .association_id(association_id)
            .send()
            .await;
        // Already gone is as good as deleted.
        Ok(found(
            &self.endpoint(&cluster.region),
            "DeletePodIdentityAssociation",
            deleted,
        )?
        .is_some())
    }

    async fn delete_access_entry(&self, cluster: &ClusterArn, principal_arn: &str) -> Result<bool> {
        let deleted = self
            .client(&cluster.region)
            .delete_access_entry()
            .cluster_name(&cluster.name)
            .principal_arn(principal_arn)
            .send()
            .await;
        // Already gone is as good as deleted.
        Ok(found(
            &self.endpoint(&cluster.region),
            "DeleteAccessEntry",
            deleted,
        )?
        .is_some())
    }
}
