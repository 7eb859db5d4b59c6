//! The documents the tool wants: trust policies of the management and target roles, and the
//! management role's permission to assume the target roles.

use super::document::{
    ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, Conditions, Effect, POD_IDENTITY_SERVICE,
    PolicyDocument, Principal, REQUEST_TAG, STS_AUDIENCE, Statement, TAG_SESSION, Values,
};
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::repair::{TrustNeed, management_trust_needs, target_trust_needs};

use crate::core::model::{ARGOCD_SERVICE_ACCOUNTS, ClusterArn, IdentityMode, RoleArn, SaRef};

/// `https://oidc.eks.<region>.amazonaws.com/id/X/` -> `oidc.eks.<region>.amazonaws.com/id/X`.
pub(crate) fn issuer_host_path(issuer_url: &str) -> &str {
    let issuer = issuer_url.trim();
    issuer
        .strip_prefix("https://")
        .unwrap_or(issuer)
        .trim_end_matches('/')
}

/// The IAM OIDC provider ARN IAM gives a cluster's issuer.
pub(crate) fn oidc_provider_arn(partition: &str, account: &str, issuer_url: &str) -> String {
    let issuer = issuer_host_path(issuer_url);
    format!("arn:{partition}:iam::{account}:oidc-provider/{issuer}")
}

/// The `sub` claim of a service account's projected token.
pub(crate) fn service_account_subject(sa: &SaRef) -> String {
    format!("system:serviceaccount:{}:{}", sa.namespace, sa.name)
}

pub(super) fn allow(principal: Option<Principal>, actions: &[&str]) -> Statement {
    Statement {
        sid: None,
        effect: Effect::Allow,
        principal,
        not_principal: None,
        action: Some(Values::of(actions.iter().copied())),
        not_action: None,
        resource: None,
        not_resource: None,
        condition: Conditions::new(),
    }
}

fn assume_actions(pod_identity: bool) -> &'static [&'static str] {
    if pod_identity {
        &[ASSUME_ROLE, TAG_SESSION]
    } else {
        &[ASSUME_ROLE]
    }
}

/// Management role trust for IRSA: exactly these service accounts, audience `sts.amazonaws.com`.
pub(crate) fn irsa_trust(
    oidc_provider_arn: &str,
    issuer: &str,
    service_accounts: &[SaRef],
) -> PolicyDocument {
    let issuer = issuer_host_path(issuer);
    let subjects: BTreeSet<String> = service_accounts
        .iter()
        .map(service_account_subject)
        .collect();
    let mut statement = allow(
        Some(Principal::of("Federated", oidc_provider_arn)),
        &[ASSUME_ROLE_WITH_WEB_IDENTITY],
    );
    let keys = BTreeMap::from([
        (format!("{issuer}:aud"), Values::of([STS_AUDIENCE])),
        (format!("{issuer}:sub"), Values::of(subjects)),
    ]);
    statement.condition.insert("StringEquals".into(), keys);
    PolicyDocument::new(vec![statement])
}

/// Management role trust for EKS Pod Identity. With a hub cluster and/or service accounts, it is
/// scoped by the session tags Pod Identity sets (one statement per namespace), as AWS documents.
pub(crate) fn pod_identity_trust(
    hub: Option<&ClusterArn>,
    service_accounts: &[SaRef],
) -> PolicyDocument {
    let mut by_namespace: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for sa in service_accounts {
        by_namespace
            .entry(&sa.namespace)
            .or_default()
            .insert(&sa.name);
    }
    let mut scopes: Vec<BTreeMap<String, Values>> = by_namespace
        .into_iter()
        .map(|(namespace, names)| {
            BTreeMap::from([
                (tag("kubernetes-namespace"), Values::of([namespace])),
                (tag("kubernetes-service-account"), Values::of(names)),
            ])
        })
        .collect();
    if scopes.is_empty() {
        scopes.push(BTreeMap::new());
    }
    let statements = scopes
        .into_iter()
        .map(|mut keys| {
            if let Some(hub) = hub {
                keys.insert(tag("eks-cluster-arn"), Values::of([hub.to_string()]));
            }
            let mut statement = allow(
                Some(Principal::of("Service", POD_IDENTITY_SERVICE)),
                assume_actions(true),
            );
            if !keys.is_empty() {
                statement.condition.insert("StringEquals".into(), keys);
            }
            statement
        })
        .collect();
    PolicyDocument::new(statements)
}

pub(super) fn tag(name: &str) -> String {
    format!("{REQUEST_TAG}{name}")
}

/// Target role trust: the management role may assume it (and pass pod identity's transitive tags).
pub(crate) fn target_role_trust(management_role: &RoleArn, pod_identity: bool) -> PolicyDocument {
    PolicyDocument::new(vec![allow(
        Some(Principal::of("AWS", &management_role.to_string())),
        assume_actions(pod_identity),
    )])
}

/// The management role's permission to assume exactly these target roles; `None` in direct mode.
pub(crate) fn management_permissions(
    target_roles: &[RoleArn],
    pod_identity: bool,
) -> Option<PolicyDocument> {
    let arns: BTreeSet<String> = target_roles.iter().map(ToString::to_string).collect();
    if arns.is_empty() {
        return None;
    }
    let mut statement = allow(None, assume_actions(pod_identity));
    statement.resource = Some(Values::of(arns));
    Some(PolicyDocument::new(vec![statement]))
}

/// Trust statement letting a role assume itself (Argo CD issue #17064: roleARN = management role;
/// IAM no longer trusts a role's own sessions implicitly).
pub(crate) fn self_assume_statement(role: &RoleArn, pod_identity: bool) -> Statement {
    Statement {
        sid: Some("ArgoCdSelfAssume".into()),
        ..allow(
            Some(Principal::of("AWS", &role.to_string())),
            assume_actions(pod_identity),
        )
    }
}

/// The inline policy the tool owns on the management role.
pub(crate) const INLINE_POLICY: &str = "kubectl-argocd-eks";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RoleKind {
    Management,
    Target,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NamedPolicy {
    pub(crate) name: String,
    pub(crate) document: PolicyDocument,
}

/// One role and the documents it needs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RolePolicies {
    pub(crate) arn: RoleArn,
    pub(crate) kind: RoleKind,
    /// The management role is also a target role (roleARN = itself): it trusts itself.
    pub(crate) self_assume: bool,
    pub(crate) purpose: String,
    pub(crate) trust_policy: PolicyDocument,
    pub(crate) permission_policies: Vec<NamedPolicy>,
    /// What each wanted trust statement is for, to tell whether an existing trust allows it.
    #[serde(skip)]
    pub(crate) trust_needs: Vec<TrustNeed>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OidcProvider {
    pub(crate) arn: String,
    pub(crate) url: String,
    pub(crate) client_ids: [&'static str; 1],
}

/// Argo CD's service accounts that need the identity: the ones Argo CD always has, and the
/// ApplicationSet controller's when it exists (`present`: the names in `namespace`).
pub(crate) fn argocd_service_accounts(
    namespace: &str,
    present: &[String],
    notes: &mut Vec<String>,
) -> Vec<SaRef> {
    let missing: Vec<&str> = ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, always)| *always && !present.iter().any(|p| p == name))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "namespace {namespace} has no service account {}: the policies are for Argo CD's defaults there (pass --argocd-namespace if Argo CD runs elsewhere)",
            missing.join(", ")
        ));
    }
    ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, always)| *always || present.iter().any(|p| p == name))
        .map(|(name, _)| SaRef::new(namespace, name))
        .collect()
}

/// The management role (first) and the target roles, each with the documents it needs.
pub(crate) fn wanted_roles(
    mode: IdentityMode,
    management: &RoleArn,
    target_roles: &[RoleArn],
    oidc_provider: Option<&OidcProvider>,
    hub: Option<&ClusterArn>,
    service_accounts: &[SaRef],
) -> Vec<RolePolicies> {
    let pod_identity = mode == IdentityMode::PodIdentity;
    let targets: BTreeSet<&RoleArn> = target_roles.iter().collect();
    let self_assume = targets.contains(management);
    let mut trust = match oidc_provider {
        Some(provider) => irsa_trust(&provider.arn, &provider.url, service_accounts),
        None => pod_identity_trust(hub, service_accounts),
    };
    let names: Vec<&str> = service_accounts.iter().map(|sa| sa.name.as_str()).collect();
    let mut purpose = match mode {
        IdentityMode::Irsa => format!(
            "Argo CD's pods run as this role: IRSA, each service account ({}) annotated with eks.amazonaws.com/role-arn.",
            names.join(", ")
        ),
        IdentityMode::PodIdentity => format!(
            "Argo CD's pods run as this role: one EKS Pod Identity association per service account ({}).",
            names.join(", ")
        ),
        IdentityMode::Capability => {
            "The EKS Argo CD capability runs as this role (its capability role).".to_owned()
        }
    };
    if self_assume {
        trust.add_statement(self_assume_statement(management, pod_identity));
        purpose.push_str(
            " It is also the target role (awsAuthConfig.roleARN = this role), so it trusts itself (statement ArgoCdSelfAssume, Argo CD issue #17064).",
        );
    }
    let owned: Vec<RoleArn> = targets.iter().map(|r| (*r).clone()).collect();
    let permissions = management_permissions(&owned, pod_identity);
    match &permissions {
        Some(_) => purpose.push_str(" Its permission policy lets it assume exactly the target roles."),
        None => purpose.push_str(
            " Direct mode (no --role-arn): it needs no permission policy; map this role itself into each target cluster (kubectl argocd-eks add makes the access entry).",
        ),
    }
    let trust_needs = management_trust_needs(
        management,
        oidc_provider,
        hub,
        service_accounts,
        self_assume,
        pod_identity,
    );
    let mut roles = vec![RolePolicies {
        arn: management.clone(),
        kind: RoleKind::Management,
        self_assume,
        purpose,
        trust_policy: trust,
        trust_needs,
        permission_policies: permissions
            .into_iter()
            .map(|document| NamedPolicy {
                name: INLINE_POLICY.into(),
                document,
            })
            .collect(),
    }];
    for target in targets.into_iter().filter(|t| *t != management) {
        roles.push(RolePolicies {
            arn: target.clone(),
            kind: RoleKind::Target,
            self_assume: false,
            purpose: format!(
                "Argo CD assumes this role to reach target clusters in account {} (awsAuthConfig.roleARN); map it into each target cluster (kubectl argocd-eks add makes the access entry). It needs no permission policy.{}",
                target.account,
                if pod_identity {
                    " Its trust allows sts:TagSession: pod identity's session tags are transitive."
                } else {
                    ""
                }
            ),
            trust_policy: target_role_trust(management, pod_identity),
            permission_policies: Vec::new(),
            trust_needs: target_trust_needs(management, hub, service_accounts, pod_identity),
        });
    }
    roles
}
