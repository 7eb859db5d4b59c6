//! Link 2 of doctor's chain: the AWS identity of Argo CD's pods (IRSA or pod identity), the
//! management role's trust for it, and whether the pods restarted since it changed.

use super::chain::native_hop_checks;
use super::fixes::{deny_fix, irsa_provider, statement_name, trust_fix};
use super::{
    Finding, HubFacts, RoleFacts, Section, argocd_service_accounts, controller_association,
    detect_identity, session_tags,
};
use crate::core::model::{IRSA_ANNOTATION, IdentityMode, RoleArn};
use crate::core::policy::diagnose::{Verdict, verdict};
use crate::core::policy::document::{STS_AUDIENCE, TAG_SESSION};
use crate::core::policy::evaluate::{At, Request};
use crate::core::policy::repair::statements_without_audience;
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
        let check = "Argo CD's pods have an AWS identity";
        let finding = match &hub.associations_unread {
            // No annotation, and the associations could not be read: they may be there.
            Some(why) => Finding::cannot_tell(
                check,
                format!(
                    "argocd-application-controller has no IRSA annotation, and its pod identity associations could not be read ({why})"
                ),
            ),
            None => Finding::fail(
                check,
                "argocd-application-controller has neither a pod identity association nor the IRSA annotation",
                "kubectl argocd-eks add CLUSTER --management-role-arn ARN (it sets up the identity)",
            ),
        };
        return Section {
            title: "Argo CD's AWS identity".into(),
            findings: vec![finding],
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
    let title = match controller_association(hub) {
        Some(association) => format!(
            "Argo CD's AWS identity ({mode}, role {})",
            association.describe_roles()
        ),
        None => format!("Argo CD's AWS identity ({mode}, role {role})"),
    };
    Section { title, findings }
}

pub(super) fn irsa_checks(hub: &HubFacts, role: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let check = "the hub's OIDC issuer is an IAM OIDC provider";
    // The provider IRSA's trust names is in the management role's account, which need not be the
    // hub cluster's.
    let management = RoleArn::parse(role).ok();
    let provider = management.as_ref().and_then(|m| irsa_provider(hub, m));
    findings.push(match (&provider, &hub.oidc_providers) {
        (Some(provider), Some(providers)) if providers.contains(&provider.arn) => {
            Finding::pass(check, provider.arn.clone())
        }
        (Some(provider), Some(_)) => Finding::fail(
            check,
            format!("{} does not exist", provider.arn),
            format!(
                "in account {}: aws iam create-open-id-connect-provider --url {} --client-id-list {STS_AUDIENCE}",
                management.as_ref().map_or("", |m| m.account.as_str()),
                provider.url
            ),
        ),
        (Some(_), None) => Finding::cannot_tell(
            check,
            format!(
                "IAM's OIDC providers in account {} could not be read (give the caller iam:ListOpenIDConnectProviders, or reach it with --assume-role)",
                management.as_ref().map_or("", |m| m.account.as_str())
            ),
        ),
        (None, _) => Finding::cannot_tell(check, "the hub's EKS cluster or its issuer could not be read"),
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
    let (Some(facts), Some(provider), Some(management)) =
        (&hub.management_role, &provider, &management)
    else {
        findings.push(Finding::cannot_tell(
            check,
            match &management {
                Some(m) => format!(
                    "the role or the hub's issuer could not be read (give the caller iam:GetRole, or reach account {} with --assume-role)",
                    m.account
                ),
                None => "the role or the hub's issuer could not be read".to_owned(),
            },
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
    let fix = || {
        trust_fix(hub, IdentityMode::Irsa, management, facts, None)
            .unwrap_or_else(|| "kubectl argocd-eks policy --create --identity irsa".into())
    };
    let service_accounts = argocd_service_accounts(hub);
    let requests: Vec<Request> = service_accounts
        .iter()
        .map(|sa| Request::web_identity(&provider.arn, &provider.url, sa))
        .collect();
    findings.push(match verdict(&[trust_doc], &requests) {
        Verdict::Allowed => Finding::pass(check, "sts:AssumeRoleWithWebIdentity allowed for each"),
        Verdict::CannotTell(why) => Finding::cannot_tell(check, format!("it depends on {}", why.join(", "))),
        Verdict::Denied { deny, .. } => {
            let denied: Vec<String> = service_accounts
                .iter()
                .zip(&requests)
                .filter(|(_, r)| !evaluate::allows(trust_doc, r).is_allowed())
                .map(|(sa, _)| generate::service_account_subject(sa))
                .collect();
            let allowed = diagnose::irsa_subjects(trust_doc, &provider.url);
            Finding::fail(
                check,
                format!(
                    "denied for {}; the trust policy allows subjects [{}] (another namespace or name?)",
                    denied.join(", "),
                    allowed.join(", ")
                ),
                match deny {
                    Some(at) => deny_fix(&facts.arn, "its trust policy", &statement_name(&[trust_doc], at)),
                    None => fix(),
                },
            )
        }
    });
    let aud_key = format!("{}:aud", generate::issuer_host_path(&provider.url));
    let check = "the trust policy checks the token audience";
    let unchecked = statements_without_audience(trust_doc, &provider.arn, &aud_key);
    findings.push(if unchecked.is_empty() {
        Finding::pass(check, format!("{aud_key} is checked"))
    } else {
        let names: Vec<String> = unchecked
            .iter()
            .map(|&statement| statement_name(&[trust_doc], At { document: 0, statement }))
            .collect();
        Finding::fail(
            check,
            format!(
                "no condition on {aud_key} in statement(s) {}: any audience's token from this issuer is accepted",
                names.join(", ")
            ),
            fix(),
        )
    });
    findings
}

pub(super) fn pod_identity_checks(hub: &HubFacts, role: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let hub_name = hub.hub_cluster.as_ref().map(|c| c.arn.clone());
    let agent = "the pod identity agent runs on the hub";
    findings.push(match (hub.pod_identity_agent, &hub_name) {
        (Some(how), _) if how.present() => Finding::pass(agent, how.describe()),
        (Some(how), Some(cluster)) => Finding::fail(
            agent,
            how.describe(),
            format!("aws eks create-addon --cluster-name {} --addon-name eks-pod-identity-agent --region {}", cluster.name, cluster.region),
        ),
        (_, None) => Finding::cannot_tell(agent, "the hub's EKS cluster is unknown"),
        (None, _) => Finding::cannot_tell(agent, "neither the add-on, EKS Auto Mode nor a DaemonSet kube-system/eks-pod-identity-agent was seen, and one of them could not be read"),
    });
    for sa in argocd_service_accounts(hub) {
        let association = hub.associations.iter().find(|a| a.service_account == sa);
        let check = format!("{sa} has a pod identity association");
        findings.push(match (association, &hub_name) {
            (Some(a), _) if a.role_arn == role => Finding::pass(&check, format!("{}: {}", a.id, a.describe_roles())),
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
    // With session tags off (disableSessionTags), EKS calls no sts:TagSession.
    let tags = session_tags(hub);
    let check = if tags {
        "the management role trusts pods.eks.amazonaws.com (AssumeRole + TagSession)"
    } else {
        "the management role trusts pods.eks.amazonaws.com (AssumeRole; session tags are off)"
    };
    let management = RoleArn::parse(role).ok();
    match (&hub.management_role, &management) {
        (
            Some(
                facts @ RoleFacts {
                    trust: Some(doc), ..
                },
            ),
            Some(management),
        ) => {
            let requests: Vec<Request> = argocd_service_accounts(hub)
                .iter()
                .map(|sa| Request::pod_identity(hub_name.as_ref(), sa))
                .flat_map(|r| {
                    let tag = tags.then(|| r.clone().for_action(TAG_SESSION));
                    tag.into_iter().chain([r])
                })
                .collect();
            findings.push(match verdict(&[doc], &requests) {
                Verdict::Allowed => Finding::pass(check, "allowed"),
                Verdict::CannotTell(why) => {
                    Finding::cannot_tell(check, format!("it depends on {}", why.join(", ")))
                }
                Verdict::Denied { actions, deny } => Finding::fail(
                    check,
                    format!("denied: {}", actions.join(", ")),
                    match deny {
                        Some(at) => {
                            deny_fix(&facts.arn, "its trust policy", &statement_name(&[doc], at))
                        }
                        None => trust_fix(hub, IdentityMode::PodIdentity, management, facts, None)
                            .unwrap_or_else(|| {
                                "kubectl argocd-eks policy --create --identity pod-identity".into()
                            }),
                    },
                ),
            });
        }
        (Some(RoleFacts { trust: None, .. }), _) => findings.push(Finding::fail(
            check,
            format!("role {role} does not exist"),
            "kubectl argocd-eks policy --create --identity pod-identity",
        )),
        (_, Some(management)) => findings.push(Finding::cannot_tell(
            check,
            format!(
                "the role could not be read (give the caller iam:GetRole, or reach account {} with --assume-role)",
                management.account
            ),
        )),
        _ => findings.push(Finding::cannot_tell(check, "the role could not be read")),
    }
    // Native chaining: EKS assumes the association's target role with the management role's
    // session, so that hop must be allowed both ways.
    if let (Some(association), Ok(management)) = (controller_association(hub), RoleArn::parse(role))
        && let Some(Ok(target)) = association.target_role_arn.as_deref().map(RoleArn::parse)
    {
        findings.extend(native_hop_checks(hub, &management, &target));
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
