//! One AWS account's APIs from one shared SDK configuration (loaded as the AWS CLI does, or
//! acting as an assumed role), and AWS errors as the tool's: not-found is data, refusals and
//! unreachable endpoints say what to do. EKS is in eks.rs, IAM and STS in iam.rs.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_eks::Client as EksClient;
use aws_sdk_eks::config::Region;
use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::aws_http::shared_https_client;
use crate::cli::settings::Timeouts;
use crate::core::model::AWS_APP_NAME;
use crate::core::partition::Partition;
use crate::error::{Error, Result};

/// Load the AWS configuration the way the AWS CLI does (env, profile, SSO, credential_process).
/// Retries are the SDK's: standard mode (3 attempts, exponential backoff with jitter, for
/// throttling, 5xx, timeouts and dropped connections) unless AWS_RETRY_MODE /
/// AWS_MAX_ATTEMPTS or the profile's retry_mode / max_attempts say otherwise. Every call, its
/// retries included, is bounded by `timeouts` (clients made from this config inherit it, the
/// STS AssumeRole credential providers too).
pub(crate) async fn load_config(profile: Option<&str>, timeouts: Timeouts) -> SdkConfig {
    loader(profile, timeouts).load().await
}

fn loader(profile: Option<&str>, timeouts: Timeouts) -> aws_config::ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .app_name(aws_config::AppName::new(AWS_APP_NAME).expect("a constant, valid app name"))
        .http_client(shared_https_client())
        .timeout_config(timeout_config(timeouts));
    match profile {
        Some(profile) => loader.profile_name(profile),
        None => loader,
    }
}

/// The SDK's timeouts for `timeouts`: connecting, each attempt, each wait for bytes, and the
/// whole operation with its retries.
fn timeout_config(timeouts: Timeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.call)
        .operation_attempt_timeout(timeouts.call)
        .operation_timeout(timeouts.call)
        .build()
}

/// One AWS account's APIs (EKS here, IAM and STS in iam.rs), from one shared configuration.
pub(crate) struct AwsApi {
    config: SdkConfig,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) sts: aws_sdk_sts::Client,
    /// Each region's EKS client, made on its first call (a client is a handle: clones share it).
    eks: Mutex<HashMap<String, EksClient>>,
}

impl AwsApi {
    pub(crate) fn new(config: SdkConfig) -> Self {
        AwsApi {
            iam: aws_sdk_iam::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            eks: Mutex::new(HashMap::new()),
            config,
        }
    }

    /// The EKS endpoint calls for `region` go to, for messages: the override
    /// (`AWS_ENDPOINT_URL_EKS`, `AWS_ENDPOINT_URL`, the profile's) or the region's own.
    pub(super) fn endpoint(&self, region: &str) -> String {
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

    pub(super) fn client(&self, region: &str) -> EksClient {
        // A poisoned lock only means another call panicked while inserting: the map is whole.
        let mut clients = self.eks.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_eks::config::Builder::from(&self.config)
                    .region(Region::new(region.to_owned()))
                    .build();
                EksClient::from_conf(config)
            })
            .clone()
    }
}

const DENIED_CODES: [&str; 3] = [
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
];

/// Codes AWS answers with when session credentials are past their expiration.
pub(super) const EXPIRED_CODES: [&str; 3] =
    ["ExpiredTokenException", "ExpiredToken", "RequestExpired"];

/// Why the SDK had no credentials to sign with, when that is why a call failed.
pub(super) enum CredentialsTrouble {
    /// No provider gave any (no env keys, no profile, no role): what was tried.
    Missing(String),
    /// A provider failed: an `--assume-role` STS refused, an SSO session ended, ...
    Failed(String),
}

impl CredentialsTrouble {
    /// The tool's error for it, with the SDK's error kept for -v.
    pub(super) fn into_error(self, source: crate::error::Cause) -> Error {
        match self {
            CredentialsTrouble::Missing(message) => Error::NoCredentials { message, source },
            CredentialsTrouble::Failed(reason) => Error::PermissionDenied {
                what: format!("could not get AWS credentials: {reason}"),
                fix: "With --assume-role, check that you may sts:AssumeRole that role and that its trust policy lets you in (aws sts assume-role --role-arn ARN --role-session-name test); with an SSO profile, run aws sso login".into(),
                source: Some(source),
            },
        }
    }
}

/// Whether `error` is the credentials provider's, and how.
pub(super) fn credentials_trouble<E>(error: &SdkError<E>) -> Option<CredentialsTrouble>
where
    E: std::error::Error + 'static,
{
    use aws_credential_types::provider::error::CredentialsError;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(credentials) = current.downcast_ref::<CredentialsError>() {
            return Some(match credentials {
                CredentialsError::CredentialsNotLoaded(_) => CredentialsTrouble::Missing(
                    "none of the environment, the AWS config's profiles, web identity, the container or instance metadata gave any".to_owned(),
                ),
                CredentialsError::InvalidConfiguration(_) => CredentialsTrouble::Missing(format!(
                    "the AWS configuration is not usable: {}",
                    innermost(current)
                )),
                _ => CredentialsTrouble::Failed(sts_refusal(current).unwrap_or_else(|| innermost(current))),
            });
        }
        cause = current.source();
    }
    None
}

/// STS's own words when it refused an AssumeRole somewhere down `error`'s causes.
fn sts_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(refusal) = current.downcast_ref::<AssumeRoleError>() {
            return Some(format!(
                "STS refused AssumeRole: {}",
                with_code(
                    refusal.code(),
                    refusal.message().unwrap_or("no reason given").to_owned()
                )
            ));
        }
        cause = current.source();
    }
    None
}

/// The deepest cause's words.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

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

pub(super) fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ResourceNotFoundException") || status(error) == Some(404)
}

/// The call's output, or None when what it names does not exist.
pub(super) fn found<T, E>(
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

/// What to do when an AWS endpoint did not answer.
pub(super) const UNREACHABLE_FIX: &str = "Check the network, any proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL, then try again; if the endpoint is only slow, give it longer with --timeout (or ARGOCD_EKS_TIMEOUT); -v shows more";

/// When no answer came (connection refused, reset, DNS, TLS, timeout): what went wrong, in a
/// few words, from the innermost cause (the whole chain is the error's source, for -v).
pub(super) fn unreachable_reason<E>(error: &SdkError<E>) -> Option<String>
where
    E: std::error::Error + 'static,
{
    let innermost = || {
        let mut cause: &dyn std::error::Error = error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    };
    match error {
        SdkError::TimeoutError(_) => Some(timed_out(&innermost())),
        SdkError::DispatchFailure(failure) => {
            let reason = innermost();
            Some(if failure.is_timeout() {
                timed_out(&reason)
            } else if reason.is_empty() {
                "the connection failed".to_owned()
            } else {
                reason
            })
        }
        _ => None,
    }
}

/// A timeout as the user set it: the SDK says "<which> timeout occurred after <duration>".
fn timed_out(sdk_says: &str) -> String {
    match sdk_says.rsplit_once("occurred after ") {
        Some((_, after)) => format!("no answer within {after} (--timeout)"),
        None => format!("no answer in time ({sdk_says})"),
    }
}

/// An SDK error as the tool's error: denials and conflicts get their own kind and exit code.
pub(super) fn aws_error<E>(endpoint: &str, operation: &str, error: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(trouble) = credentials_trouble(&error) {
        return trouble.into_error(Box::new(error));
    }
    if let Some(reason) = unreachable_reason(&error) {
        return Error::Unreachable {
            service: "EKS".into(),
            url: endpoint.to_owned(),
            reason: format!("{reason} (calling {operation})"),
            fix: UNREACHABLE_FIX.into(),
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
    if code.as_deref().is_some_and(|c| EXPIRED_CODES.contains(&c)) {
        return Error::CredentialsExpired {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_config::retry::RetryMode;
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};

    use super::*;

    async fn loaded(profile_text: &str, profile: Option<&str>) -> SdkConfig {
        let dir = std::env::temp_dir().join(format!(
            "argocd-eks-aws-config-{}-{}",
            std::process::id(),
            profile.unwrap_or("default")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        std::fs::write(&path, profile_text).unwrap();
        let files = EnvConfigFiles::builder()
            .with_file(EnvConfigFileKind::Config, &path)
            .build();
        loader(profile, Timeouts::for_call(Duration::from_secs(2)))
            .profile_files(files)
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await
    }

    #[tokio::test]
    async fn every_call_is_bounded_and_retries_are_the_sdk_standard_or_the_profiles() {
        let config = loaded("[default]\n", None).await;
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(timeouts.read_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(2))
        );
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(2)));
        if std::env::var_os("AWS_RETRY_MODE").is_none()
            && std::env::var_os("AWS_MAX_ATTEMPTS").is_none()
        {
            let retries = config.retry_config().unwrap();
            assert_eq!(retries.mode(), RetryMode::Standard);
            assert_eq!(retries.max_attempts(), 3);
            let config = loaded(
                "[profile slow]\nretry_mode = adaptive\nmax_attempts = 7\n",
                Some("slow"),
            )
            .await;
            let retries = config.retry_config().unwrap();
            assert_eq!(retries.mode(), RetryMode::Adaptive);
            assert_eq!(retries.max_attempts(), 7);
        }
    }

    #[test]
    fn a_timeout_says_how_long_it_waited() {
        assert_eq!(
            timed_out("operation timeout (all attempts including retries) occurred after 2s"),
            "no answer within 2s (--timeout)"
        );
        assert_eq!(timed_out("timeout"), "no answer in time (timeout)");
    }
}
