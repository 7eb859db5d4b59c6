//! Link 2 of doctor's chain: the AWS identity of Argo CD's pods (IRSA or pod identity), the
//! management role's trust for it, and whether the pods restarted since it changed.

use super::{
    Finding, HubFacts, RoleFacts, Section, argocd_service_accounts, detect_identity,
    update_trust_fix,
};
use crate::core::model::{IRSA_ANNOTATION, IdentityMode};
use crate::core::policy::document::{ASSUME_ROLE, STS_AUDIENCE, TAG_SESSION};
use crate::core::policy::evaluate::Request;
use crate::core::policy::{diagnose, evaluate, generate};

/// Link 2: the AWS identity of Argo CD's pods (IRSA or pod identity) and their restart.
pub(crate) fn identity_checks(hub: &HubFacts) -> Section {
    if hub.capability {
        let finding = match &hub.capability_role {
            Some(role) => Finding::pass("the capability's role is known", role.to_string()),
            None => Finding::cannot_tell(
                "the capability's role is known",
                "pass --capability-role ARN to check its access entries and connect as it",
            ),
        };
        return Section {
            title: "Argo CD's AWS identity (EKS Argo CD capability)".into(),
            findings: vec![finding],
        };
    }
    let Some((mode, role)) = detect_identity(hub) else {
        return Section {
            title: "Argo CD's AWS identity".into(),
            findings: vec![Finding::fail(
                "Argo CD's pods have an AWS identity",
                "argocd-application-controller has neither a pod identity association nor the IRSA annotation",
                "kubectl argocd-eks add CLUSTER --management-role-arn ARN (it sets up the identity)",
            )],
        };
    };
    let mut findings = Vec::new();
    let shadowed: Vec<String> = hub
        .associations
        .iter()
        .filter(|a| {
            hub.service_accounts
                .iter()
                .any(|sa| sa.name == a.service_account.name && sa.irsa_role.is_some())
        })
        .map(|a| a.service_account.to_string())
        .collect();
    if !shadowed.is_empty() {
        findings.push(Finding::fail(
            "each service account has one identity",
            format!(
                "{} carry the IRSA annotation and a pod identity association; AWS SDKs use IRSA",
                shadowed.join(", ")
            ),
            format!(
                "keep one: kubectl -n {} annotate serviceaccount <name> {IRSA_ANNOTATION}- (to use pod identity), or delete the associations (to use IRSA)",
                hub.namespace
            ),
        ));
    }
    findings.extend(match mode {
        IdentityMode::Irsa => irsa_checks(hub, &role),
        IdentityMode::PodIdentity => pod_identity_checks(hub, &role),
        // detect_identity never reports the capability: EKS runs its Argo CD.
        IdentityMode::Capability => Vec::new(),
    });
    findings.push(restart_check(hub));
    Section {
        title: format!("Argo CD's AWS identity ({mode}, role {role})"),
        findings,
    }
}

fn irsa_checks(hub: &HubFacts, role: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let issuer = hub.hub_cluster.as_ref().and_then(|c| c.oidc_issuer.clone());
    let provider = issuer
        .as_ref()
        .zip(hub.hub_cluster.as_ref())
        .map(|(issuer, cluster)| {
            generate::oidc_provider_arn(&cluster.arn.partition, &cluster.arn.account, issuer)
        });
    findings.push(match (&issuer, &provider, &hub.oidc_providers) {
        (Some(_), Some(provider), Some(providers)) if providers.contains(provider) => {
            Finding::pass("the hub's OIDC issuer is an IAM OIDC provider", provider.clone())
        }
        (Some(issuer), Some(provider), Some(_)) => Finding::fail(
            "the hub's OIDC issuer is an IAM OIDC provider",
            format!("{provider} does not exist"),
            format!(
                "aws iam create-open-id-connect-provider --url {issuer} --client-id-list {STS_AUDIENCE}"
            ),
        ),
        _ => Finding::cannot_tell(
            "the hub's OIDC issuer is an IAM OIDC provider",
            "the hub's EKS cluster or IAM's OIDC providers could not be read",
        ),
    });
    for sa in argocd_service_accounts(hub) {
        let annotation = hub
            .service_accounts
            .iter()
            .find(|s| s.name == sa.name)
            .and_then(|s| s.irsa_role.as_deref());
        let check = format!("{sa} carries {IRSA_ANNOTATION}");
        findings.push(if annotation == Some(role) {
            Finding::pass(&check, role)
        } else {
            Finding::fail(
                &check,
                format!("it has {}", annotation.unwrap_or("no annotation")),
                format!(
                    "kubectl -n {} annotate --overwrite serviceaccount {} {IRSA_ANNOTATION}={role}",
                    sa.namespace, sa.name
                ),
            )
        });
    }
    let check = "the management role trusts each service account's web identity";
    let (Some(facts), Some(issuer), Some(provider)) = (&hub.management_role, &issuer, &provider)
    else {
        findings.push(Finding::cannot_tell(
            check,
            "the role or the hub's issuer could not be read",
        ));
        return findings;
    };
    let Some(trust_doc) = &facts.trust else {
        findings.push(Finding::fail(
            check,
            format!("role {role} does not exist"),
            "kubectl argocd-eks policy --create --identity irsa",
        ));
        return findings;
    };
    let service_accounts = argocd_service_accounts(hub);
    let wanted = generate::irsa_trust(provider, issuer, &service_accounts);
    let denied: Vec<String> = service_accounts
        .iter()
        .filter(|sa| {
            !evaluate::allows(trust_doc, &Request::web_identity(provider, issuer, sa)).is_allowed()
        })
        .map(generate::service_account_subject)
        .collect();
    findings.push(if denied.is_empty() {
        Finding::pass(check, "sts:AssumeRoleWithWebIdentity allowed for each")
    } else {
        let allowed = diagnose::irsa_subjects(trust_doc, issuer);
        Finding::fail(
            check,
            format!(
                "denied for {}; the trust policy allows subjects [{}] (another namespace or name?)",
                denied.join(", "),
                allowed.join(", ")
            ),
            update_trust_fix(&facts.arn, &wanted),
        )
    });
    let aud_key = format!("{}:aud", generate::issuer_host_path(issuer));
    let check = "the trust policy checks the token audience";
    findings.push(if diagnose::has_condition_key(trust_doc, &aud_key) {
        Finding::pass(check, format!("{aud_key} is checked"))
    } else {
        Finding::fail(
            check,
            format!("no condition on {aud_key}: any audience's token from this issuer is accepted"),
            update_trust_fix(&facts.arn, &wanted),
        )
    });
    findings
}

fn pod_identity_checks(hub: &HubFacts, role: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let hub_name = hub.hub_cluster.as_ref().map(|c| c.arn.clone());
    findings.push(match (hub.pod_identity_agent, &hub_name) {
        (Some(true), _) => Finding::pass("the pod identity agent runs on the hub", "eks-pod-identity-agent add-on"),
        (Some(false), Some(cluster)) => Finding::fail(
            "the pod identity agent runs on the hub",
            "no eks-pod-identity-agent add-on (fine only on EKS Auto Mode, where it is built in)",
            format!("aws eks create-addon --cluster-name {} --addon-name eks-pod-identity-agent --region {}", cluster.name, cluster.region),
        ),
        _ => Finding::cannot_tell("the pod identity agent runs on the hub", "the hub's EKS cluster is unknown"),
    });
    for sa in argocd_service_accounts(hub) {
        let association = hub.associations.iter().find(|a| a.service_account == sa);
        let check = format!("{sa} has a pod identity association");
        findings.push(match (association, &hub_name) {
            (Some(a), _) if a.role_arn == role => Finding::pass(&check, format!("{} -> {role}", a.id)),
            (found, Some(cluster)) => Finding::fail(
                &check,
                found.map_or("none".to_owned(), |a| format!("{} uses {}", a.id, a.role_arn)),
                format!(
                    "aws eks create-pod-identity-association --cluster-name {} --region {} --namespace {} --service-account {} --role-arn {role}",
                    cluster.name, cluster.region, sa.namespace, sa.name
                ),
            ),
            (_, None) => Finding::cannot_tell(&check, "the hub's EKS cluster is unknown"),
        });
    }
    let check = "the management role trusts pods.eks.amazonaws.com (AssumeRole + TagSession)";
    match (&hub.management_role, &hub_name) {
        (
            Some(RoleFacts {
                trust: Some(doc),
                arn,
                ..
            }),
            Some(cluster),
        ) => {
            let service_accounts = argocd_service_accounts(hub);
            let mut missing = std::collections::BTreeSet::new();
            for sa in &service_accounts {
                let request = Request::pod_identity(cluster, sa);
                missing.extend(diagnose::missing_actions(
                    doc,
                    &request,
                    &[ASSUME_ROLE, TAG_SESSION],
                ));
            }
            findings.push(if missing.is_empty() {
                Finding::pass(check, "allowed")
            } else {
                let wanted = generate::pod_identity_trust(None, &[]);
                Finding::fail(
                    check,
                    format!(
                        "denied: {}",
                        missing.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                    update_trust_fix(arn, &wanted),
                )
            });
        }
        (Some(RoleFacts { trust: None, .. }), _) => findings.push(Finding::fail(
            check,
            format!("role {role} does not exist"),
            "kubectl argocd-eks policy --create --identity pod-identity",
        )),
        _ => findings.push(Finding::cannot_tell(check, "the role could not be read")),
    }
    findings
}

pub(super) fn restart_check(hub: &HubFacts) -> Finding {
    let check = "Argo CD's pods started after the identity last changed";
    let Some(changed) = hub.identity_changed_at else {
        return Finding::cannot_tell(check, "when the identity changed is unknown");
    };
    let stale: Vec<&str> = hub
        .pods
        .iter()
        .filter(|pod| pod.created < changed)
        .map(|pod| pod.name.as_str())
        .collect();
    if hub.pods.is_empty() {
        Finding::pass(check, "no pods of Argo CD's service accounts are running")
    } else if stale.is_empty() {
        Finding::pass(check, format!("{} pod(s) are newer", hub.pods.len()))
    } else {
        Finding::fail(
            check,
            format!(
                "{} started before; they still use the old identity",
                stale.join(", ")
            ),
            format!(
                "kubectl -n {} rollout restart statefulset/argocd-application-controller deployment/argocd-server deployment/argocd-applicationset-controller",
                hub.namespace
            ),
        )
    }
}
