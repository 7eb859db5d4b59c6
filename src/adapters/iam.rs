//! IAM and STS over aws-sdk-iam / aws-sdk-sts; a missing role is data (None), not an error.

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;

use super::aws::{
    AwsApi, EXPIRED_CODES, UNREACHABLE_FIX, credentials_trouble, error_message, status,
    unreachable_reason, with_code,
};
use crate::core::model::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, RoleArn};
use crate::core::partition::Partition;
use crate::error::{Error, Result};
use crate::ports::{CallerIdentity, IamRead, IamRole, IamWrite, RolePolicy, TokenMinter};

fn iam_error<E>(operation: &str, error: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(trouble) = credentials_trouble(&error) {
        return trouble.into_error(Box::new(error));
    }
    let service = if operation == "GetCallerIdentity" {
        "STS"
    } else {
        "IAM"
    };
    if let Some(reason) = unreachable_reason(&error) {
        let url = std::env::var(format!("AWS_ENDPOINT_URL_{service}"))
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|_| format!("the {service} endpoint of the credentials' partition"));
        return Error::Unreachable {
            service: service.into(),
            url,
            reason: format!("{reason} (calling {operation})"),
            fix: UNREACHABLE_FIX.into(),
            source: Box::new(error),
        };
    }
    let code = error.code().filter(|code| !code.is_empty());
    let message = error_message(&error);
    if code.is_some_and(|c| EXPIRED_CODES.contains(&c)) {
        return Error::CredentialsExpired {
            at: format!("AWS {service} ({operation})"),
            message: with_code(code, message),
            source: Box::new(error),
        };
    }
    if code.is_some_and(|c| c == "InvalidClientTokenId") {
        return Error::CredentialsRefused {
            at: format!("AWS {service} ({operation})"),
            message: with_code(code, message),
            source: Box::new(error),
        };
    }
    if code.is_some_and(|c| c.starts_with("AccessDenied")) || status(&error) == Some(403) {
        return Error::PermissionDenied {
            what: format!("AWS refused {operation}: {message}"),
            fix: format!(
                "Give the caller {}:{operation} (check who you are with aws sts get-caller-identity), or pick another --profile",
                service.to_lowercase()
            ),
            source: Some(Box::new(error)),
        };
    }
    Error::Aws {
        operation: operation.to_owned(),
        message: with_code(code, message),
        fix: "Check the credentials and network, then try again; -v shows more".into(),
        source: Some(Box::new(error)),
    }
}

fn managed_by_tag() -> Tag {
    // Invariant: both required fields are set.
    Tag::builder()
        .key(MANAGED_BY_LABEL)
        .value(MANAGED_BY_VALUE)
        .build()
        .expect("tag key and value are set")
}

impl IamRead for AwsApi {
    async fn caller(&self) -> Result<CallerIdentity> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| iam_error("GetCallerIdentity", e))?;
        Ok(CallerIdentity {
            account: identity.account().unwrap_or_default().to_owned(),
            arn: identity.arn().unwrap_or_default().to_owned(),
        })
    }

    async fn role(&self, name: &str) -> Result<Option<IamRole>> {
        match self.iam.get_role().role_name(name).send().await {
            Ok(output) => Ok(output.role().map(|role| IamRole {
                arn: role.arn().to_owned(),
                trust_policy: role
                    .assume_role_policy_document()
                    .unwrap_or_default()
                    .to_owned(),
            })),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(iam_error("GetRole", e)),
        }
    }

    async fn list_roles(&self) -> Result<Vec<IamRole>> {
        let mut roles = Vec::new();
        let mut pages = self.iam.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| iam_error("ListRoles", e))?;
            roles.extend(page.roles().iter().map(|role| {
                IamRole {
                    arn: role.arn().to_owned(),
                    trust_policy: role
                        .assume_role_policy_document()
                        .unwrap_or_default()
                        .to_owned(),
                }
            }));
        }
        Ok(roles)
    }

    async fn role_policies(&self, name: &str) -> Result<Vec<RolePolicy>> {
        let mut policies = Vec::new();
        let inline = self
            .iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| iam_error("ListRolePolicies", e))?;
        for policy_name in inline.policy_names() {
            let policy = self
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(|e| iam_error("GetRolePolicy", e))?;
            policies.push(RolePolicy {
                name: policy_name.clone(),
                document: policy.policy_document().to_owned(),
            });
        }
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| iam_error("ListAttachedRolePolicies", e))?;
        for policy in attached.attached_policies() {
            let Some(arn) = policy.policy_arn() else {
                continue;
            };
            let described = self
                .iam
                .get_policy()
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| iam_error("GetPolicy", e))?;
            let Some(version) = described.policy().and_then(|p| p.default_version_id()) else {
                continue;
            };
            let document = self
                .iam
                .get_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await
                .map_err(|e| iam_error("GetPolicyVersion", e))?;
            if let Some(text) = document.policy_version().and_then(|v| v.document()) {
                policies.push(RolePolicy {
                    name: arn.to_owned(),
                    document: text.to_owned(),
                });
            }
        }
        Ok(policies)
    }

    async fn oidc_providers(&self) -> Result<Vec<String>> {
        let output = self
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| iam_error("ListOpenIDConnectProviders", e))?;
        Ok(output
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_owned))
            .collect())
    }
}

impl IamWrite for AwsApi {
    async fn create_role(&self, name: &str, trust_policy: &str, description: &str) -> Result<()> {
        self.iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .description(description)
            .tags(managed_by_tag())
            .send()
            .await
            .map_err(|e| iam_error("CreateRole", e))?;
        Ok(())
    }

    async fn update_trust_policy(&self, name: &str, trust_policy: &str) -> Result<()> {
        self.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust_policy)
            .send()
            .await
            .map_err(|e| iam_error("UpdateAssumeRolePolicy", e))?;
        Ok(())
    }

    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<()> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| iam_error("PutRolePolicy", e))?;
        Ok(())
    }

    async fn create_oidc_provider(&self, issuer_url: &str) -> Result<String> {
        let output = self
            .iam
            .create_open_id_connect_provider()
            .url(issuer_url)
            .client_id_list("sts.amazonaws.com")
            .tags(managed_by_tag())
            .send()
            .await
            .map_err(|e| iam_error("CreateOpenIDConnectProvider", e))?;
        Ok(output
            .open_id_connect_provider_arn()
            .unwrap_or_default()
            .to_owned())
    }
}

impl TokenMinter for AwsApi {
    async fn eks_token(
        &self,
        chain: &[RoleArn],
        cluster_name: &str,
        region: &str,
    ) -> Result<String> {
        self.presign_eks_token(chain, cluster_name, region).await
    }
}

/// X-Amz-Expires of the presigned URL, 60 s as argocd-k8s-auth and `aws eks get-token` sign it.
/// It is not the token's lifetime: STS, hence EKS, accepts the URL for 15 minutes after its
/// X-Amz-Date whatever this says, and argocd-k8s-auth caches the token for 14.
const TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

impl AwsApi {
    /// Credentials after assuming each role of `chain` in turn, starting from this account's.
    async fn chained_credentials(
        &self,
        chain: &[RoleArn],
    ) -> Result<aws_credential_types::Credentials> {
        use aws_credential_types::provider::ProvideCredentials;
        let mut config = self.config().clone();
        for role in chain {
            config = super::aws::assume_role_config(&config, role).await;
        }
        let provider = config.credentials_provider().ok_or_else(|| Error::Aws {
            operation: "AssumeRole".into(),
            message: "no AWS credentials are configured".into(),
            fix: "Configure credentials (AWS_PROFILE, SSO, ...) and try again".into(),
            source: None,
        })?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| {
                match sts_unreachable(&e) {
                Some(reason) => Error::Unreachable {
                    service: "STS".into(),
                    url: sts_url(self.config()),
                    reason: format!("{reason} (calling AssumeRole)"),
                    fix: UNREACHABLE_FIX.into(),
                    source: Box::new(e),
                },
                None => Error::PermissionDenied {
                what: format!(
                    "could not assume {}: {}",
                    chain
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" then "),
                    DisplayErrorContext(&e)
                ),
                fix: "Run doctor with credentials that may assume the roles to test the connection"
                    .into(),
                source: Some(Box::new(e)),
                },
            }
            })
    }

    /// A bearer token for EKS cluster `cluster_name`, made exactly as `argocd-k8s-auth aws`
    /// and `aws eks get-token` make it: `k8s-aws-v1.` + base64url of a presigned STS
    /// GetCallerIdentity URL whose signed headers include `x-k8s-aws-id: <cluster name>`.
    async fn presign_eks_token(
        &self,
        chain: &[RoleArn],
        cluster_name: &str,
        region: &str,
    ) -> Result<String> {
        use aws_sigv4::http_request::{
            SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
        };
        use base64::Engine as _;
        let credentials = self.chained_credentials(chain).await?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(TOKEN_LIFETIME);
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("sts")
            .time(std::time::SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| token_error(e.to_string()))?
            .into();
        // The URL names the regional STS host of the target's partition whatever endpoint
        // the SDK is pointed at: the token is only read, never sent, by the client, and
        // aws-iam-authenticator refuses any host that is not an STS endpoint of the partition.
        let host = Partition::of_region(region).sts_host(region);
        let url = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
        let headers = [("host", host.as_str()), ("x-k8s-aws-id", cluster_name)];
        let signable = SignableRequest::new(
            "GET",
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| token_error(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| token_error(e.to_string()))?
            .into_parts();
        let mut request = http::Request::get(url.as_str())
            .body(())
            .map_err(|e| token_error(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        let presigned = request.uri().to_string();
        Ok(format!(
            "k8s-aws-v1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
        ))
    }
}

/// Why STS did not answer an AssumeRole the credential provider made, if that is what failed.
fn sts_unreachable(
    error: &aws_credential_types::provider::error::CredentialsError,
) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    if let CredentialsError::ProviderTimedOut(_) = error {
        return Some("no answer in time".into());
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(sdk) = current.downcast_ref::<SdkError<AssumeRoleError>>() {
            return unreachable_reason(sdk);
        }
        cause = current.source();
    }
    None
}

/// Where STS calls go, for messages: the override, else the regional endpoint.
fn sts_url(config: &aws_config::SdkConfig) -> String {
    std::env::var("AWS_ENDPOINT_URL_STS")
        .ok()
        .filter(|url| !url.is_empty())
        .or_else(|| config.endpoint_url().map(str::to_owned))
        .unwrap_or_else(|| {
            let region = config.region().map_or("us-east-1", |r| r.as_ref());
            format!("https://{}", Partition::of_region(region).sts_host(region))
        })
}

fn token_error(message: String) -> Error {
    Error::Aws {
        operation: "presign GetCallerIdentity".into(),
        message,
        fix: "This is unexpected; report it with -vv output".into(),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::error::CredentialsError;

    use super::*;

    #[test]
    fn an_assume_role_that_got_no_answer_is_unreachable_not_a_denial() {
        let timed_out = CredentialsError::provider_timed_out(std::time::Duration::from_secs(2));
        assert_eq!(
            sts_unreachable(&timed_out).as_deref(),
            Some("no answer in time")
        );
        let refused = CredentialsError::provider_error("AccessDenied: not allowed");
        assert_eq!(sts_unreachable(&refused), None);
        assert_eq!(
            sts_unreachable(&CredentialsError::not_loaded("no profile")),
            None
        );
    }
}
