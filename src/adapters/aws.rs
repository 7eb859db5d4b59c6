//! EKS over aws-sdk-eks: one client per region from one shared config; not-found is data.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_eks::Client as EksClient;
use aws_sdk_eks::config::Region;
use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use aws_sdk_eks::types::{AccessScope as SdkAccessScope, AccessScopeType};

use crate::core::model::{
    AccessPolicyAssociation, AccessScope, AuthenticationMode, ClusterArn, EksCluster,
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::core::partition::Partition;
use crate::error::{Error, Result};
use crate::ports::{EksRead, EksWrite};

/// Load the AWS configuration the way the AWS CLI does (env, profile, SSO, credential_process).
pub(crate) async fn load_config(profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// The same configuration acting as `role` (sts:AssumeRole, refreshed by the SDK).
pub(crate) async fn assume_role_config(base: &SdkConfig, role: &RoleArn) -> SdkConfig {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role.to_string())
        .session_name("kubectl-argocd-eks")
        .configure(base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(aws_sdk_eks::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build()
}

/// One AWS account's APIs (EKS here, IAM and STS in iam.rs), from one shared configuration.
pub(crate) struct AwsApi {
    config: SdkConfig,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) sts: aws_sdk_sts::Client,
}

impl AwsApi {
    pub(crate) fn new(config: SdkConfig) -> Self {
        AwsApi {
            iam: aws_sdk_iam::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            config,
        }
    }

    /// The EKS endpoint calls for `region` go to, for messages: the override
    /// (`AWS_ENDPOINT_URL_EKS`, `AWS_ENDPOINT_URL`, the profile's) or the region's own.
    fn endpoint(&self, region: &str) -> String {
        std::env::var("AWS_ENDPOINT_URL_EKS")
            .ok()
            .filter(|url| !url.is_empty())
            .or_else(|| self.config.endpoint_url().map(str::to_owned))
            .unwrap_or_else(|| {
                format!(
                    "https://eks.{region}.{}",
                    Partition::of_region(region).dns_suffix
                )
            })
    }

    pub(crate) fn config(&self) -> &SdkConfig {
        &self.config
    }

    fn client(&self, region: &str) -> EksClient {
        let config = aws_sdk_eks::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .build();
        EksClient::from_conf(config)
    }
}

const DENIED_CODES: [&str; 4] = [
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "ExpiredTokenException",
];

pub(super) fn status<E>(error: &SdkError<E>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

/// AWS's message for `error`, else all the SDK can say about it.
pub(super) fn error_message<E>(error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| DisplayErrorContext(error).to_string())
}

/// `message` led by AWS's error code, when there is one.
pub(super) fn with_code(code: Option<&str>, message: String) -> String {
    match code {
        Some(code) => format!("{code}: {message}"),
        None => message,
    }
}

fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ResourceNotFoundException") || status(error) == Some(404)
}

/// The call's output, or None when what it names does not exist.
fn found<T, E>(
    endpoint: &str,
    operation: &str,
    result: std::result::Result<T, SdkError<E>>,
) -> Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(aws_error(endpoint, operation, e)),
    }
}

/// Codes AWS answers with when it does not accept the credentials at all, as for a region
/// the account has not enabled (opt-in regions) or a key it never issued.
const CREDENTIALS_REFUSED_CODES: [&str; 4] = [
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
    "OptInRequired",
];

/// When no answer came (connection refused, DNS, TLS, timeout): what went wrong, in a few
/// words, from the innermost cause (the whole chain is the error's source, for -v).
pub(super) fn unreachable_reason<E>(error: &SdkError<E>) -> Option<String>
where
    E: std::error::Error + 'static,
{
    match error {
        SdkError::TimeoutError(_) => Some("no answer in time".to_owned()),
        SdkError::DispatchFailure(failure) => {
            let mut cause: &dyn std::error::Error = error;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let reason = cause.to_string();
            Some(if failure.is_timeout() {
                "no answer in time".to_owned()
            } else if reason.is_empty() {
                "the connection failed".to_owned()
            } else {
                reason
            })
        }
        _ => None,
    }
}

/// An SDK error as the tool's error: denials and conflicts get their own kind and exit code.
fn aws_error<E>(endpoint: &str, operation: &str, error: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(reason) = unreachable_reason(&error) {
        return Error::Unreachable {
            service: "EKS".into(),
            url: endpoint.to_owned(),
            reason,
            source: Box::new(error),
        };
    }
    let code = error.code().map(str::to_owned);
    let message = error_message(&error);
    if code
        .as_deref()
        .is_some_and(|c| CREDENTIALS_REFUSED_CODES.contains(&c))
    {
        return Error::CredentialsRefused {
            at: format!("EKS at {endpoint}"),
            message: with_code(code.as_deref(), message),
            source: Box::new(error),
        };
    }
    if code.as_deref().is_some_and(|c| DENIED_CODES.contains(&c)) || status(&error) == Some(403) {
        return Error::PermissionDenied {
            what: format!("AWS refused {operation}: {message}"),
            fix: format!(
                "Give the caller eks:{operation} (check who you are with aws sts get-caller-identity), or pick another --profile"
            ),
            source: Some(Box::new(error)),
        };
    }
    if code.as_deref() == Some("ResourceInUseException") {
        return Error::Conflict {
            what: format!("AWS {operation}: {message}"),
            fix: "Someone changed it meanwhile; run the command again to see the new plan".into(),
        };
    }
    Error::Aws {
        operation: operation.to_owned(),
        message: with_code(code.as_deref(), message),
        fix: "Check the region, credentials and network, then try again; -v shows more".into(),
        source: Some(Box::new(error)),
    }
}

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
        let mut associations = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let id = summary.association_id().unwrap_or_default();
            let described = client
                .describe_pod_identity_association()
                .cluster_name(&cluster.name)
                .association_id(id)
                .send()
                .await;
            // None: deleted between the list and the describe.
            let Some(described) = found(
                &self.endpoint(&cluster.region),
                "DescribePodIdentityAssociation",
                described,
            )?
            else {
                continue;
            };
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
                });
            }
        }
        Ok(associations)
    }

    async fn access_entry(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<Vec<AccessPolicyAssociation>>> {
        let client = self.client(&cluster.region);
        let described = client
            .describe_access_entry()
            .cluster_name(&cluster.name)
            .principal_arn(principal_arn)
            .send()
            .await;
        if found(
            &self.endpoint(&cluster.region),
            "DescribeAccessEntry",
            described,
        )?
        .is_none()
        {
            return Ok(None);
        }
        let policies = client
            .list_associated_access_policies()
            .cluster_name(&cluster.name)
            .principal_arn(principal_arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                aws_error(
                    &self.endpoint(&cluster.region),
                    "ListAssociatedAccessPolicies",
                    e,
                )
            })?;
        Ok(Some(
            policies
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
        ))
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
    ) -> Result<()> {
        self.client(&cluster.region)
            .create_pod_identity_association()
            .cluster_name(&cluster.name)
            .namespace(&service_account.namespace)
            .service_account(&service_account.name)
            .role_arn(role.to_string())
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
    ) -> Result<()> {
        self.client(&cluster.region)
            .update_pod_identity_association()
            .cluster_name(&cluster.name)
            .association_id(association_id)
            .role_arn(role.to_string())
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
    ) -> Result<()> {
        let deleted = self
            .client(&cluster.region)
            .delete_pod_identity_association()
            .cluster_name(&cluster.name)
            .association_id(association_id)
            .send()
            .await;
        // Already gone is as good as deleted.
        found(
            &self.endpoint(&cluster.region),
            "DeletePodIdentityAssociation",
            deleted,
        )?;
        Ok(())
    }

    async fn delete_access_entry(&self, cluster: &ClusterArn, principal_arn: &str) -> Result<()> {
        let deleted = self
            .client(&cluster.region)
            .delete_access_entry()
            .cluster_name(&cluster.name)
            .principal_arn(principal_arn)
            .send()
            .await;
        // Already gone is as good as deleted.
        found(
            &self.endpoint(&cluster.region),
            "DeleteAccessEntry",
            deleted,
        )?;
        Ok(())
    }
}
