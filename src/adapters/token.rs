//! EKS tokens: the role chain assumed through STS, then a presigned GetCallerIdentity as
//! `k8s-aws-v1.` token (what argocd-k8s-auth and aws-iam-authenticator make).

use aws_sdk_iam::error::{DisplayErrorContext, SdkError};

use super::aws::{AwsApi, UNREACHABLE_FIX, unreachable_reason};
use crate::core::model::RoleArn;
use crate::core::partition::Partition;
use crate::error::{Error, Result};
use crate::ports::TokenMinter;

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
            config = super::assumed_role::assume_role_config(&config, role).await;
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
