//! IAM over aws-sdk-iam (and the caller through STS); a missing role is data (None), not an error.

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;

use super::aws::{
    AwsApi, EXPIRED_CODES, UNREACHABLE_FIX, credentials_trouble, error_message, status,
    unreachable_reason, with_code,
};
use crate::core::model::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::error::{Error, Result};
use crate::ports::{CallerIdentity, IamRead, IamRole, IamWrite, RolePolicy};

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
