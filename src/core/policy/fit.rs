//! Which of an account's IAM roles could be Argo CD's management role or a target role: each
//! role's trust evaluated with the requests doctor's checks send (IRSA's web identity per
//! service account, pod identity's AssumeRole + TagSession, the management role's sessions).

use crate::core::model::{ClusterArn, RoleArn, SaRef};
use crate::core::policy::diagnose::{Verdict, verdict};
use crate::core::policy::document::{TAG_SESSION, parse_policy};
use crate::core::policy::generate::oidc_provider_arn;
use crate::core::policy::repair::session_requests;
use crate::core::policy::request::Request;
use crate::ports::IamRole;

/// What the role is wanted for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want<'a> {
    /// IRSA: the hub's OIDC issuer, for these service accounts.
    Irsa {
        issuer: &'a str,
        service_accounts: &'a [SaRef],
    },
    /// EKS Pod Identity on this hub (None: not known); `tags`: session tags are on.
    PodIdentity {
        hub: Option<&'a ClusterArn>,
        service_accounts: &'a [SaRef],
        tags: bool,
    },
    /// A target role that `management`'s sessions assume (`pod_identity`: they carry pod
    /// identity's transitive tags).
    Target {
        management: &'a RoleArn,
        pod_identity: bool,
        hub: Option<&'a ClusterArn>,
        service_accounts: &'a [SaRef],
    },
}

/// A role whose trust lets Argo CD in, and what it allows, as shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fit {
    pub(crate) arn: RoleArn,
    pub(crate) allows: String,
    /// False: what the tool cannot evaluate decides (a condition on an unknowable key).
    pub(crate) certain: bool,
}

/// The roles of `roles` whose trust allows what `want` needs (certainly, or perhaps), in the
/// order given; roles whose trust is unreadable or denies are left out.
pub(crate) fn fitting_roles(roles: &[IamRole], want: &Want<'_>) -> Vec<Fit> {
    roles
        .iter()
        .filter_map(|role| {
            let arn = RoleArn::parse(&role.arn).ok()?;
            let trust = parse_policy(&role.trust_policy).ok()?;
            let (requests, allows) = requests(&arn, want);
            match verdict(&[&trust], &requests) {
                Verdict::Allowed => Some(Fit {
                    arn,
                    allows,
                    certain: true,
                }),
                Verdict::CannotTell(why) => Some(Fit {
                    arn,
                    allows: format!("{allows}, if {}", why.join(", ")),
                    certain: false,
                }),
                Verdict::Denied { .. } => None,
            }
        })
        .collect()
}

fn names(service_accounts: &[SaRef]) -> String {
    let names: Vec<&str> = service_accounts.iter().map(|s| s.name.as_str()).collect();
    names.join(", ")
}

/// The requests `role`'s trust must allow, and the words for what that allows.
fn requests(role: &RoleArn, want: &Want<'_>) -> (Vec<Request>, String) {
    match *want {
        Want::Irsa {
            issuer,
            service_accounts,
        } => {
            let provider = oidc_provider_arn(&role.partition, &role.account, issuer);
            let requests = service_accounts
                .iter()
                .map(|sa| Request::web_identity(&provider, issuer, sa))
                .collect();
            let namespace = service_accounts
                .first()
                .map_or("", |s| s.namespace.as_str());
            let allows = format!(
                "IRSA for {} in {namespace}",
                names(service_accounts).replace("argocd-", "")
            );
            (requests, allows)
        }
        Want::PodIdentity {
            hub,
            service_accounts,
            tags,
        } => {
            let requests = service_accounts
                .iter()
                .map(|sa| Request::pod_identity(hub, sa))
                .flat_map(|r| {
                    let tag = tags.then(|| r.clone().for_action(TAG_SESSION));
                    tag.into_iter().chain([r])
                })
                .collect();
            let allows = if tags {
                "pod identity (AssumeRole + TagSession)"
            } else {
                "pod identity (AssumeRole)"
            };
            (requests, allows.to_owned())
        }
        Want::Target {
            management,
            pod_identity,
            hub,
            service_accounts,
        } => {
            let requests = session_requests(management, pod_identity, hub, service_accounts);
            let what = if pod_identity {
                "AssumeRole + TagSession"
            } else {
                "AssumeRole"
            };
            (requests, format!("{what} by {}", management.name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC";
    const ACCOUNT: &str = "123456789012";

    fn role(name: &str, trust: &str) -> IamRole {
        IamRole {
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            trust_policy: trust.to_owned(),
        }
    }

    fn sas(namespace: &str) -> Vec<SaRef> {
        ["argocd-application-controller", "argocd-server"]
            .iter()
            .map(|n| SaRef::new(namespace, n))
            .collect()
    }

    fn irsa_trust(namespace: &str) -> String {
        let provider =
            format!("arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC");
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringLike":{{"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:{namespace}:*"}},"StringEquals":{{"oidc.eks.us-east-1.amazonaws.com/id/ABC:aud":"sts.amazonaws.com"}}}}}}]}}"#
        )
    }

    const PODS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    const PODS_NO_TAGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn irsa_roles_fit_only_for_the_namespace_their_trust_names() {
        let roles = [
            role("argocd-irsa", &irsa_trust("argocd")),
            role("other-irsa", &irsa_trust("other")),
            role("pods", PODS),
            role("broken", "not json"),
        ];
        let sas = sas("argocd");
        let fits = fitting_roles(
            &roles,
            &Want::Irsa {
                issuer: ISSUER,
                service_accounts: &sas,
            },
        );
        assert_eq!(fits.len(), 1, "{fits:?}");
        assert_eq!(fits[0].arn.name(), "argocd-irsa");
        assert_eq!(
            fits[0].allows,
            "IRSA for application-controller, server in argocd"
        );
        assert!(fits[0].certain);
    }

    #[test]
    fn pod_identity_needs_tag_session_when_session_tags_are_on() {
        let roles = [role("tags", PODS), role("no-tags", PODS_NO_TAGS)];
        let sas = sas("argocd");
        let with_tags = Want::PodIdentity {
            hub: None,
            service_accounts: &sas,
            tags: true,
        };
        let fits = fitting_roles(&roles, &with_tags);
        assert_eq!(
            fits.iter().map(|f| f.arn.name()).collect::<Vec<_>>(),
            ["tags"]
        );
        assert_eq!(fits[0].allows, "pod identity (AssumeRole + TagSession)");
        let without = Want::PodIdentity {
            hub: None,
            service_accounts: &sas,
            tags: false,
        };
        assert_eq!(fitting_roles(&roles, &without).len(), 2);
    }

    #[test]
    fn target_roles_fit_when_they_trust_the_management_role() {
        let management =
            RoleArn::parse("arn:aws:iam::123456789012:role/argocd-management").unwrap();
        let trusting = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{management}"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#
        );
        let roles = [role("deployer", &trusting), role("pods", PODS)];
        let sas = sas("argocd");
        let fits = fitting_roles(
            &roles,
            &Want::Target {
                management: &management,
                pod_identity: true,
                hub: None,
                service_accounts: &sas,
            },
        );
        assert_eq!(fits.len(), 1, "{fits:?}");
        assert_eq!(
            fits[0].allows,
            "AssumeRole + TagSession by argocd-management"
        );
    }
}
