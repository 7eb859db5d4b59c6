//! Link 1 of doctor's chain: the hub, Argo CD's namespace and service accounts, and the right to
//! write Secrets there.

use super::{Finding, HubFacts, Section};
use crate::core::model::ARGOCD_SERVICE_ACCOUNTS;

/// Link 1: the hub, Argo CD's namespace and service accounts, and the right to write Secrets.
pub(crate) fn hub_checks(hub: &HubFacts) -> Section {
    let mut findings = Vec::new();
    if hub.capability {
        findings.push(Finding::pass(
            "Argo CD runs as the EKS Argo CD capability",
            "its Secrets name clusters by ARN; EKS runs Argo CD's pods",
        ));
        return Section {
            title: format!("Hub (Argo CD in namespace {})", hub.namespace),
            findings,
        };
    }
    let missing: Vec<&str> = ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, required)| {
            *required && !hub.service_accounts.iter().any(|sa| sa.name == *name)
        })
        .map(|(name, _)| *name)
        .collect();
    findings.push(if missing.is_empty() {
        Finding::pass(
            "Argo CD's service accounts exist",
            format!("in namespace {}", hub.namespace),
        )
    } else {
        Finding::fail(
            "Argo CD's service accounts exist",
            format!(
                "{} missing in namespace {}",
                missing.join(", "),
                hub.namespace
            ),
            "Pass --argocd-namespace with the namespace Argo CD runs in",
        )
    });
    findings.push(match hub.may_create_secrets {
        Some(true) => Finding::pass("you may create Secrets there", "SelfSubjectAccessReview allowed"),
        Some(false) => Finding::fail(
            "you may create Secrets there",
            "SelfSubjectAccessReview denied create secrets",
            format!(
                "Ask a cluster admin: kubectl -n {} create role argocd-eks-registrar --verb=get,list,create,patch --resource=secrets,serviceaccounts, and bind it to you",
                hub.namespace
            ),
        ),
        None => Finding::cannot_tell("you may create Secrets there", "the access review failed"),
    });
    Section {
        title: format!("Hub (Argo CD in namespace {})", hub.namespace),
        findings,
    }
}
