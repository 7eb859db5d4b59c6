//! What a request to STS carries when IAM evaluates it: the action, the caller, and the
//! condition keys AWS sets (global keys, web identity claims, pod identity's session tags),
//! with the keys whose values this tool cannot know marked as such.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{
    ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, POD_IDENTITY_SERVICE, REQUEST_TAG, STS_AUDIENCE,
};
use super::generate::{issuer_host_path, service_account_subject};
use crate::core::model::{ClusterArn, RoleArn, SaRef};

/// The session tags EKS Pod Identity sets on every session it makes (unless the association
/// disables them); all of them are transitive.
pub(crate) const POD_IDENTITY_TAGS: [&str; 6] = [
    "eks-cluster-arn",
    "eks-cluster-name",
    "kubernetes-namespace",
    "kubernetes-service-account",
    "kubernetes-pod-name",
    "kubernetes-pod-uid",
];

const PRINCIPAL_TAG: &str = "aws:PrincipalTag/";
const TAG_KEYS: &str = "aws:TagKeys";

/// Who asks, as IAM sees the caller of an STS action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestPrincipal {
    /// A role, user, or `arn:aws:sts::<acct>:assumed-role/<name>/<session>`.
    Aws(String),
    Service(String),
    /// An IAM OIDC provider ARN.
    Federated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) action: String,
    pub(crate) principal: RequestPrincipal,
    /// Checked against `Resource` only when set (trust policies have none).
    pub(crate) resource: Option<String>,
    /// Condition keys the request carries, with their values (keys compared without case).
    pub(crate) context: BTreeMap<String, Vec<String>>,
    /// Keys (lower case) the request carries with values this tool cannot know.
    pub(crate) unknowable: BTreeSet<String>,
    /// Key prefixes (lower case) of which the request carries no keys but the listed ones: any
    /// other key with such a prefix is absent. Every other unlisted key is unknowable.
    pub(crate) complete: BTreeSet<String>,
}

/// What a request holds for one condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyValue<'a> {
    Present(&'a [String]),
    Absent,
    /// Present or not, with values this tool cannot know.
    Unknown,
}

impl Request {
    pub(crate) fn new(action: &str, principal: RequestPrincipal) -> Self {
        Request {
            action: action.to_owned(),
            principal,
            resource: None,
            context: BTreeMap::new(),
            unknowable: BTreeSet::new(),
            complete: BTreeSet::new(),
        }
    }

    pub(crate) fn with_context(mut self, key: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.context.insert(key.to_owned(), values);
        self
    }

    /// The request carries `key` with a value this tool cannot know (a pod's name, say).
    pub(crate) fn with_unknowable(mut self, key: &str) -> Self {
        self.unknowable.insert(key.to_ascii_lowercase());
        self
    }

    /// The request carries no key starting with `prefix` but those in its context.
    pub(crate) fn with_complete(mut self, prefix: &str) -> Self {
        self.complete.insert(prefix.to_ascii_lowercase());
        self
    }

    pub(crate) fn with_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// The same request for another action.
    pub(crate) fn for_action(&self, action: &str) -> Self {
        Request {
            action: action.to_owned(),
            ..self.clone()
        }
    }

    /// What the request holds for `key`, compared without case as IAM compares keys.
    pub(crate) fn lookup(&self, key: &str) -> KeyValue<'_> {
        let lower = key.to_ascii_lowercase();
        if let Some((_, values)) = self
            .context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            return KeyValue::Present(values);
        }
        if self.unknowable.contains(&lower) {
            return KeyValue::Unknown;
        }
        if self.complete.iter().any(|prefix| lower.starts_with(prefix)) {
            return KeyValue::Absent;
        }
        // A request carries the claims of one OIDC provider only (`<host>/<path>:<claim>`).
        let own = |provider: &str| {
            self.context
                .keys()
                .any(|k| provider_of(&k.to_ascii_lowercase()) == Some(provider))
        };
        match provider_of(&lower) {
            Some(provider) if !own(provider) => KeyValue::Absent,
            _ => KeyValue::Unknown,
        }
    }

    /// What STS evaluates when `sa`'s pod exchanges its projected token (IRSA).
    pub(crate) fn web_identity(oidc_provider_arn: &str, issuer: &str, sa: &SaRef) -> Self {
        let issuer = issuer_host_path(issuer);
        let principal = RequestPrincipal::Federated(oidc_provider_arn.to_owned());
        Request::new(ASSUME_ROLE_WITH_WEB_IDENTITY, principal)
            .with_context(&format!("{issuer}:sub"), &[&service_account_subject(sa)])
            .with_context(&format!("{issuer}:aud"), &[STS_AUDIENCE])
            .with_context("aws:PrincipalType", &["WebIdentity"])
            // EKS's projected tokens carry no session tags.
            .with_complete(REQUEST_TAG)
            .with_complete(TAG_KEYS)
    }

    /// What STS evaluates when EKS Pod Identity assumes a role for `sa` with session tags on;
    /// `hub` None: the hub's cluster is not known, so neither are the tags that name it.
    pub(crate) fn pod_identity(hub: Option<&ClusterArn>, sa: &SaRef) -> Self {
        let principal = RequestPrincipal::Service(POD_IDENTITY_SERVICE.to_owned());
        let request = Request::new(ASSUME_ROLE, principal)
            .with_context("aws:PrincipalServiceName", &[POD_IDENTITY_SERVICE])
            .with_context("aws:PrincipalIsAWSService", &["true"])
            .with_context(TAG_KEYS, &POD_IDENTITY_TAGS)
            .with_complete(REQUEST_TAG);
        with_pod_tags(request, REQUEST_TAG, hub, sa)
    }

    /// What STS evaluates when a session of `role` calls sts:AssumeRole (Argo CD's role
    /// chaining). `pod_identity`: the session came from EKS Pod Identity for that service account
    /// on that hub, so it carries pod identity's transitive tags as `aws:PrincipalTag/*`.
    pub(crate) fn role_session(
        role: &RoleArn,
        pod_identity: Option<(Option<&ClusterArn>, &SaRef)>,
    ) -> Self {
        let session = format!(
            "arn:{}:sts::{}:assumed-role/{}/argocd",
            role.partition,
            role.account,
            role.name()
        );
        let request = Request::new(ASSUME_ROLE, RequestPrincipal::Aws(session))
            // The role's ARN, with its path; never the session's.
            .with_context("aws:PrincipalArn", &[&role.to_string()])
            .with_context("aws:PrincipalAccount", &[&role.account])
            .with_context("aws:PrincipalType", &["AssumedRole"])
            .with_context("aws:PrincipalIsAWSService", &["false"])
            // Argo CD's awsAuthConfig has no external id, and it sets no source identity.
            .with_complete("sts:ExternalId")
            .with_complete("sts:SourceIdentity");
        match pod_identity {
            Some((hub, sa)) => with_pod_tags(request, PRINCIPAL_TAG, hub, sa),
            // Argo CD passes no session tags of its own.
            None => request.with_complete(REQUEST_TAG).with_complete(TAG_KEYS),
        }
    }
}

/// `oidc.eks.r.amazonaws.com/id/x` of the key `oidc.eks.r.amazonaws.com/id/x:sub`.
fn provider_of(key: &str) -> Option<&str> {
    let (provider, _) = key.rsplit_once(':')?;
    (!provider.contains(':') && provider.contains('/')).then_some(provider)
}

/// Pod identity's session tags for `sa` on `hub` as keys `<prefix><tag>`; the pod's name and
/// uid (and the hub's, when unknown) are unknowable.
fn with_pod_tags(
    mut request: Request,
    prefix: &str,
    hub: Option<&ClusterArn>,
    sa: &SaRef,
) -> Request {
    let values = [
        hub.map(ToString::to_string),
        hub.map(|h| h.name.clone()),
        Some(sa.namespace.clone()),
        Some(sa.name.clone()),
        None,
        None,
    ];
    for (name, value) in POD_IDENTITY_TAGS.iter().zip(values) {
        let key = format!("{prefix}{name}");
        request = match value {
            Some(value) => request.with_context(&key, &[&value]),
            None => request.with_unknowable(&key),
        };
    }
    request
}
