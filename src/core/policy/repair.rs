//! What an existing policy should become so that it allows what Argo CD needs: every statement
//! there kept, the wrong one corrected or the missing one added. `policy --create` writes it and
//! doctor prints it as the fix, so both give the same document.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnose::assumable_roles;
use super::document::{
    ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, Effect, PolicyDocument, Principal, Statement,
    TAG_SESSION, canonical_statement,
};
use super::evaluate::{Outcome, action_matches, allows};
use super::generate::{
    OidcProvider, irsa_trust, management_permissions, pod_identity_trust, self_assume_statement,
    target_role_trust,
};
use super::request::Request;
use crate::core::model::{ClusterArn, RoleArn, SaRef};

/// A statement the tool wants in a trust policy, and the requests it is there to allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustNeed {
    pub(crate) statement: Statement,
    /// Each must be allowed (one request per action).
    pub(crate) requests: Vec<Request>,
}

/// Nothing in `doc` certainly allows `request`, and an Allow could help: no explicit Deny, and
/// no Allow that only a condition this tool cannot evaluate might block.
fn lacks_allow(doc: &PolicyDocument, request: &Request) -> bool {
    let decision = allows(doc, request);
    decision.at.is_none() && decision.outcome != Outcome::ExplicitDeny
}

/// The trust policy `existing` should become to allow what `needs` are for. Every statement
/// there is kept. One that lets the caller in for one wanted action but not another gains that
/// action; one for the same web identity that does not check the token's audience gains that
/// check; a wanted statement is added only while some of its requests are still not allowed.
/// An explicit Deny is left as it is (doctor names it).
pub(crate) fn repair_trust(existing: &PolicyDocument, needs: &[TrustNeed]) -> PolicyDocument {
    let mut doc = existing.clone();
    for need in needs {
        add_missing_audience(&mut doc, &need.statement);
    }
    for need in needs {
        for request in &need.requests {
            if !lacks_allow(&doc, request) {
                continue;
            }
            let sibling = need
                .requests
                .iter()
                .filter(|other| !other.action.eq_ignore_ascii_case(&request.action))
                .find_map(|other| {
                    let decision = allows(&doc, other);
                    decision
                        .is_allowed()
                        .then(|| decision.statement())
                        .flatten()
                });
            let statement = sibling.and_then(|index| doc.statements.get_mut(index));
            if let Some(actions) = statement.and_then(|s| s.action.as_mut()) {
                actions.0.push(request.action.clone());
            }
        }
    }
    for need in needs {
        let wanted = canonical_statement(&need.statement);
        let present = doc
            .statements
            .iter()
            .any(|s| canonical_statement(s) == wanted);
        let needed = need.requests.is_empty() || need.requests.iter().any(|r| lacks_allow(&doc, r));
        if !present && needed {
            doc.statements.push(need.statement.clone());
        }
    }
    doc
}

/// The web identity Allow statements for `provider` that check no `<issuer>:aud` (`aud_key`).
pub(crate) fn statements_without_audience(
    doc: &PolicyDocument,
    provider: &str,
    aud_key: &str,
) -> Vec<usize> {
    doc.statements
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            let same_provider = matches!(&s.principal, Some(Principal::Of(kinds))
                if kinds.get("Federated").is_some_and(|v| v.iter().any(|p| p == provider)));
            let checks = s
                .condition
                .values()
                .any(|keys| keys.keys().any(|k| k.eq_ignore_ascii_case(aud_key)));
            s.effect == Effect::Allow
                && same_provider
                && action_matches(s, ASSUME_ROLE_WITH_WEB_IDENTITY)
                && !checks
        })
        .map(|(index, _)| index)
        .collect()
}

/// For a wanted web identity statement that checks `<issuer>:aud`: the Allow statements for the
/// same provider that check no audience (they accept a token meant for anyone) get that check.
fn add_missing_audience(doc: &mut PolicyDocument, wanted: &Statement) {
    let Some(Principal::Of(kinds)) = &wanted.principal else {
        return;
    };
    let Some(providers) = kinds.get("Federated") else {
        return;
    };
    let audience = wanted.condition.iter().find_map(|(operator, keys)| {
        keys.iter()
            .find(|(key, _)| key.to_ascii_lowercase().ends_with(":aud"))
            .map(|(key, values)| (operator.clone(), key.clone(), values.clone()))
    });
    let Some((operator, key, values)) = audience else {
        return;
    };
    for provider in providers.iter() {
        for index in statements_without_audience(doc, provider, &key) {
            doc.statements[index]
                .condition
                .entry(operator.clone())
                .or_default()
                .insert(key.clone(), values.clone());
        }
    }
}

/// A statement that only lets its holder assume roles: the kind the tool's inline policy holds.
fn only_assumes_roles(statement: &Statement) -> bool {
    let actions_ok = statement.action.as_ref().is_some_and(|actions| {
        actions
            .iter()
            .all(|a| a.eq_ignore_ascii_case(ASSUME_ROLE) || a.eq_ignore_ascii_case(TAG_SESSION))
    });
    let resources_ok = statement
        .resource
        .as_ref()
        .is_some_and(|resources| resources.iter().all(|r| RoleArn::parse(r).is_ok()));
    statement.effect == Effect::Allow
        && statement.principal.is_none()
        && statement.not_principal.is_none()
        && statement.not_action.is_none()
        && statement.not_resource.is_none()
        && statement.condition.is_empty()
        && actions_ok
        && resources_ok
}

/// The tool's inline policy as it should become: one statement assuming every role it already
/// may assume (clusters registered before still use them) and `wanted`; every other statement
/// someone put there kept as it is.
pub(crate) fn repair_permissions(
    existing: &PolicyDocument,
    wanted: &BTreeSet<RoleArn>,
    pod_identity: bool,
) -> (PolicyDocument, BTreeSet<RoleArn>) {
    let (ours, theirs): (Vec<&Statement>, Vec<&Statement>) = existing
        .statements
        .iter()
        .partition(|s| only_assumes_roles(s));
    let ours = PolicyDocument::new(ours.into_iter().cloned().collect());
    let kept = assumable_roles(&ours);
    let all: Vec<RoleArn> = kept.union(wanted).cloned().collect();
    let mut statements: Vec<Statement> = theirs.into_iter().cloned().collect();
    if let Some(merged) = management_permissions(&all, pod_identity) {
        statements.extend(merged.statements);
    }
    (PolicyDocument::new(statements), kept)
}

// ---- what each wanted trust statement is for ----

/// Requests of sessions of `role` calling sts:AssumeRole (and sts:TagSession under pod
/// identity, whose sessions carry its transitive tags), one per service account and action.
pub(crate) fn session_requests(
    role: &RoleArn,
    pod_identity: bool,
    hub: Option<&ClusterArn>,
    service_accounts: &[SaRef],
) -> Vec<Request> {
    if !pod_identity {
        return vec![Request::role_session(role, None)];
    }
    let sessions: Vec<Request> = match service_accounts {
        [] => vec![Request::role_session(role, None)],
        many => many
            .iter()
            .map(|sa| Request::role_session(role, Some((hub, sa))))
            .collect(),
    };
    sessions
        .into_iter()
        .flat_map(|r| [r.for_action(TAG_SESSION), r])
        .collect()
}

/// The management role's trust statements and what each is for: the pods' identity (IRSA's
/// web identity, or pod identity's requests per namespace), and assuming itself.
pub(crate) fn management_trust_needs(
    management: &RoleArn,
    oidc_provider: Option<&OidcProvider>,
    hub: Option<&ClusterArn>,
    service_accounts: &[SaRef],
    self_assume: bool,
    pod_identity: bool,
) -> Vec<TrustNeed> {
    let mut needs = Vec::new();
    match oidc_provider {
        Some(provider) => needs.extend(
            irsa_trust(&provider.arn, &provider.url, service_accounts)
                .statements
                .into_iter()
                .map(|statement| TrustNeed {
                    statement,
                    requests: service_accounts
                        .iter()
                        .map(|sa| Request::web_identity(&provider.arn, &provider.url, sa))
                        .collect(),
                }),
        ),
        None => {
            let mut by_namespace: BTreeMap<&str, Vec<SaRef>> = BTreeMap::new();
            for sa in service_accounts {
                by_namespace
                    .entry(&sa.namespace)
                    .or_default()
                    .push(sa.clone());
            }
            if by_namespace.is_empty() {
                by_namespace.insert("", Vec::new());
            }
            for group in by_namespace.values() {
                let requests: Vec<Request> = group
                    .iter()
                    .map(|sa| Request::pod_identity(hub, sa))
                    .flat_map(|r| [r.for_action(TAG_SESSION), r])
                    .collect();
                needs.extend(pod_identity_trust(hub, group).statements.into_iter().map(
                    |statement| TrustNeed {
                        statement,
                        requests: Vec::clone(&requests),
                    },
                ));
            }
        }
    }
    if self_assume {
        needs.push(TrustNeed {
            statement: self_assume_statement(management, pod_identity),
            requests: session_requests(management, pod_identity, hub, service_accounts),
        });
    }
    needs
}

/// A target role's trust statement: the management role's sessions may assume it.
pub(crate) fn target_trust_needs(
    management: &RoleArn,
    hub: Option<&ClusterArn>,
    service_accounts: &[SaRef],
    pod_identity: bool,
) -> Vec<TrustNeed> {
    target_role_trust(management, pod_identity)
        .statements
        .into_iter()
        .map(|statement| TrustNeed {
            statement,
            requests: session_requests(management, pod_identity, hub, service_accounts),
        })
        .collect()
}
