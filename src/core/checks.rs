//! doctor's checks: observed hub, IAM and EKS facts -> findings, each failure with its exact fix.

use serde::Serialize;

use super::model::{
    AccessPolicyAssociation, ClusterArn, EksCluster, IRSA_ANNOTATION, IdentityMode,
    PodIdentityAssociation, RoleArn, SaRef,
};
use super::plan::ObservedServiceAccount;
use super::secret::ObservedSecret;
use super::trust::{
    self, ASSUME_ROLE, PolicyDocument, Request, RequestPrincipal, STS_AUDIENCE, TAG_SESSION,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The tool could not read what the check needs.
    CannotTell,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// For failures: the command to run or the policy to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn pass(check: &str, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn cannot_tell(check: &str, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::CannotTell,
            detail: detail.into(),
            fix: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub title: String,
    pub findings: Vec<Finding>,
}

impl Section {
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.status == Status::Fail)
    }
}

/// An IAM role as doctor read it: None trust means the role does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    pub arn: RoleArn,
    pub trust: Option<PolicyDocument>,
    pub permissions: Vec<PolicyDocument>,
}

/// A pod of one of Argo CD's service accounts, with when it was created (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub service_account: String,
    pub created: i64,
}

/// Everything doctor read about the hub; `None` in an Option<..> field means "could not read".
#[derive(Debug, Clone, Default)]
pub struct HubFacts {
    pub namespace: String,
    pub service_accounts: Vec<ObservedServiceAccount>,
    pub may_create_secrets: Option<bool>,
    pub hub_cluster: Option<EksCluster>,
    pub pod_identity_agent: Option<bool>,
    pub associations: Vec<PodIdentityAssociation>,
    pub oidc_providers: Option<Vec<String>>,
    pub management_role: Option<RoleFacts>,
    pub pods: Vec<PodFacts>,
    /// When Argo CD's identity last changed (Unix seconds), if known.
    pub identity_changed_at: Option<i64>,
    /// Argo CD is the EKS Argo CD capability (every checked Secret names its cluster by ARN).
    pub capability: bool,
    /// The capability's role, when the user named it.
    pub capability_role: Option<RoleArn>,
}

/// Everything doctor read about one registered cluster.
#[derive(Debug, Clone)]
pub struct TargetFacts {
    pub secret: ObservedSecret,
    /// The cluster the Secret names (its `name` ARN, or the cluster found at its server).
    pub cluster_arn: Option<ClusterArn>,
    /// DescribeCluster: None = could not ask; Some(None) = no such cluster.
    pub described: Option<Option<EksCluster>>,
    /// The target role (roleARN), read in the target's account when reachable.
    pub target_role: Option<RoleFacts>,
    /// The principal's access entry: None = could not read; Some(None) = none.
    pub access_entry: Option<Option<Vec<AccessPolicyAssociation>>>,
    /// Connecting as Argo CD would; None when not attempted.
    pub connection: Option<Connection>,
    /// kube-system/aws-auth `mapRoles` on the target: None = no kube context for it here;
    /// Some(None) = no aws-auth ConfigMap.
    pub aws_auth: Option<Option<String>>,
}

/// One `mapRoles` entry of the aws-auth ConfigMap.
#[derive(Debug, serde::Deserialize)]
struct MapRole {
    rolearn: String,
    #[serde(default)]
    groups: Vec<String>,
}

/// What happened when doctor connected to the target the way Argo CD does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Authenticated {
        username: String,
        groups: Vec<String>,
    },
    /// The cluster answered 401 to the token.
    Rejected,
    /// The roles could not be assumed from here (the caller is not Argo CD).
    CannotAssume(String),
    Unreachable(String),
}

fn json(doc: &PolicyDocument) -> String {
    format!("{doc}")
}

/// The identity Argo CD's application controller has. AWS SDKs look for IRSA's web identity
/// before pod identity's container credentials, so an IRSA annotation wins when both exist.
pub fn detect_identity(hub: &HubFacts) -> Option<(IdentityMode, String)> {
    let controller = super::model::ARGOCD_SERVICE_ACCOUNTS[0].0;
    let annotation = hub
        .service_accounts
        .iter()
        .find(|sa| sa.name == controller)
        .and_then(|sa| sa.irsa_role.clone());
    if let Some(role) = annotation {
        return Some((IdentityMode::Irsa, role));
    }
    hub.associations
        .iter()
        .find(|a| a.service_account.name == controller)
        .map(|association| (IdentityMode::PodIdentity, association.role_arn.clone()))
}

fn argocd_service_accounts(hub: &HubFacts) -> Vec<SaRef> {
    super::model::ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, _)| hub.service_accounts.iter().any(|sa| sa.name == *name))
        .map(|(name, _)| SaRef::new(&hub.namespace, name))
        .collect()
}

/// Link 1: the hub, Argo CD's namespace and service accounts, and the right to write Secrets.
pub fn hub_checks(hub: &HubFacts) -> Section {
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
    let missing: Vec<&str> = super::model::ARGOCD_SERVICE_ACCOUNTS
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

/// Link 2: the AWS identity of Argo CD's pods (IRSA or pod identity) and their restart.
pub fn identity_checks(hub: &HubFacts) -> Section {
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

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn update_trust_fix(role: &RoleArn, wanted: &PolicyDocument) -> String {
    format!(
        "aws iam update-assume-role-policy --role-name {} --policy-document '{}'",
        role.name(),
        json(wanted)
    )
}

fn irsa_checks(hub: &HubFacts, role: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let issuer = hub.hub_cluster.as_ref().and_then(|c| c.oidc_issuer.clone());
    let provider = issuer
        .as_ref()
        .zip(hub.hub_cluster.as_ref())
        .map(|(issuer, cluster)| {
            trust::oidc_provider_arn(&cluster.arn.partition, &cluster.arn.account, issuer)
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
    let wanted = trust::irsa_trust(provider, issuer, &service_accounts);
    let denied: Vec<String> = service_accounts
        .iter()
        .filter(|sa| {
            !trust::allows(trust_doc, &Request::web_identity(provider, issuer, sa)).is_allowed()
        })
        .map(trust::service_account_subject)
        .collect();
    findings.push(if denied.is_empty() {
        Finding::pass(check, "sts:AssumeRoleWithWebIdentity allowed for each")
    } else {
        let allowed = trust::irsa_subjects(trust_doc, issuer);
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
    let aud_key = format!("{}:aud", trust::issuer_host_path(issuer));
    let check = "the trust policy checks the token audience";
    findings.push(if trust::has_condition_key(trust_doc, &aud_key) {
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
                missing.extend(trust::missing_actions(
                    doc,
                    &request,
                    &[ASSUME_ROLE, TAG_SESSION],
                ));
            }
            findings.push(if missing.is_empty() {
                Finding::pass(check, "allowed")
            } else {
                let wanted = trust::pod_identity_trust(None, &[]);
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

fn restart_check(hub: &HubFacts) -> Finding {
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

/// Links 3-5 for one registered cluster: role chain, target access, and the Secret itself.
pub fn target_checks(hub: &HubFacts, target: &TargetFacts) -> Section {
    let secret = &target.secret;
    let title = format!(
        "{} (Secret {}/{})",
        target
            .cluster_arn
            .as_ref()
            .map_or("unknown cluster".to_owned(), ToString::to_string),
        secret.namespace,
        secret.name
    );
    if hub.capability {
        return capability_target_checks(hub, target, title);
    }
    let mut findings = Vec::new();
    let config = secret.config();
    let auth = config.as_ref().and_then(|c| c.aws_auth_config.clone());
    let role_arn = auth.as_ref().and_then(|a| a.role_arn.clone());
    let identity = detect_identity(hub);

    // The Secret's own fields.
    let check = "the Secret's roleARN is an IAM role ARN";
    let target_role = match role_arn.as_deref().map(RoleArn::parse) {
        None => {
            findings.push(Finding::pass(
                check,
                "no roleARN: direct mode (the management role reaches the target)",
            ));
            None
        }
        Some(Ok(role)) => {
            findings.push(Finding::pass(check, role.to_string()));
            Some(role)
        }
        Some(Err(e)) => {
            findings.push(Finding::fail(check, e.to_string(), format!("kubectl -n {} edit secret {}: set config.awsAuthConfig.roleARN to arn:aws:iam::<account>:role/<name>", secret.namespace, secret.name)));
            None
        }
    };
    if let (Some(arn), Some(auth)) = (&target.cluster_arn, &auth) {
        let check = "awsAuthConfig.clusterName and the server's region match the cluster";
        let host_region = secret
            .server()
            .and_then(|s| s.strip_suffix(".eks.amazonaws.com"))
            .and_then(|s| s.rsplit('.').next());
        let mut problems = Vec::new();
        if auth.cluster_name != arn.name {
            problems.push(format!(
                "clusterName is {:?}, the cluster is {:?}",
                auth.cluster_name, arn.name
            ));
        }
        if let Some(region) = host_region.filter(|r| *r != arn.region) {
            problems.push(format!(
                "the server is in {region}, the cluster in {}",
                arn.region
            ));
        }
        findings.push(if problems.is_empty() {
            Finding::pass(check, format!("{} in {}", arn.name, arn.region))
        } else {
            Finding::fail(check, problems.join("; "), format!("kubectl argocd-eks add {arn} --secret-name {} rewrites the Secret from DescribeCluster", secret.name))
        });
    }
    findings.push(match &target.described {
        Some(Some(cluster)) => {
            let mut problems = Vec::new();
            if secret.server() != Some(cluster.endpoint.trim_end_matches('/')) {
                problems.push(format!(
                    "server is {}, EKS says {}",
                    secret.server().unwrap_or("-"),
                    cluster.endpoint
                ));
            }
            let ca = config
                .as_ref()
                .and_then(|c| c.tls_client_config.ca_data.clone());
            if ca.as_deref() != Some(cluster.ca_data.as_str()) {
                problems.push(
                    "caData differs from the cluster's certificate authority (rotated?)".into(),
                );
            }
            if problems.is_empty() {
                Finding::pass(
                    "server and caData match DescribeCluster",
                    cluster.endpoint.clone(),
                )
            } else {
                Finding::fail(
                    "server and caData match DescribeCluster",
                    problems.join("; "),
                    format!(
                        "kubectl argocd-eks add {} --secret-name {} (updates server and caData)",
                        cluster.arn, secret.name
                    ),
                )
            }
        }
        Some(None) => Finding::fail(
            "server and caData match DescribeCluster",
            "the cluster no longer exists",
            format!("kubectl argocd-eks remove {}", secret.name),
        ),
        None => Finding::cannot_tell(
            "server and caData match DescribeCluster",
            "the cluster could not be described from here (reach its account with --assume-role)",
        ),
    });

    // The role chain.
    let management = identity
        .as_ref()
        .and_then(|(_, arn)| RoleArn::parse(arn).ok());
    let pod_identity = matches!(identity, Some((IdentityMode::PodIdentity, _)));
    if let (Some(target_role), Some(management)) = (&target_role, &management) {
        findings.extend(chain_checks(
            hub,
            target,
            target_role,
            management,
            pod_identity,
        ));
    }

    // Target access.
    let principal = target_role.clone().or(management);
    let check = "the target lets the role in (access entry with a policy)";
    let auth_mode = target
        .described
        .clone()
        .flatten()
        .and_then(|c| c.authentication_mode);
    findings.push(match (&target.access_entry, &principal, &target.cluster_arn) {
        (_, _, _) if auth_mode.is_some_and(|m| !m.allows_access_entries()) => {
            aws_auth_finding(principal.as_ref(), &target.aws_auth)
        }
        (Some(Some(policies)), Some(p), _) if !policies.is_empty() => Finding::pass(check, format!("{p}: {}", policies.iter().map(|a| role_name(&a.policy_arn).to_owned()).collect::<Vec<_>>().join(", "))),
        (Some(found), Some(p), Some(arn)) => Finding::fail(
            check,
            if found.is_some() { format!("{p} has an access entry but no access policy") } else { format!("no access entry for {p}") },
            format!(
                "aws eks create-access-entry --cluster-name {0} --region {1} --principal-arn {p}; aws eks associate-access-policy --cluster-name {0} --region {1} --principal-arn {p} --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy --access-scope type=cluster",
                arn.name, arn.region
            ),
        ),
        _ => Finding::cannot_tell(check, "the access entry could not be read"),
    });
    findings.push(connection_finding(target, principal.as_ref()));
    Section { title, findings }
}

/// A Secret in the EKS Argo CD capability's format: the cluster exists, and the capability
/// role has an access entry with a policy there.
fn capability_target_checks(hub: &HubFacts, target: &TargetFacts, title: String) -> Section {
    let exists = "server names an existing EKS cluster";
    let mut findings = vec![match &target.described {
        Some(Some(cluster)) => Finding::pass(exists, cluster.arn.to_string()),
        Some(None) => Finding::fail(
            exists,
            "no such cluster",
            format!("kubectl argocd-eks remove {}", target.secret.name),
        ),
        None => Finding::cannot_tell(
            exists,
            "the cluster could not be described from here (reach its account with --assume-role)",
        ),
    }];
    let check = "the capability role has an access entry with a policy";
    findings.push(
        match (
            &hub.capability_role,
            &target.access_entry,
            &target.cluster_arn,
        ) {
            (None, _, _) => Finding::cannot_tell(check, "pass --capability-role ARN"),
            (Some(role), Some(Some(policies)), _) if !policies.is_empty() => {
                let names: Vec<&str> = policies.iter().map(|a| role_name(&a.policy_arn)).collect();
                Finding::pass(check, format!("{role}: {}", names.join(", ")))
            }
            (Some(role), Some(_), Some(arn)) => Finding::fail(
                check,
                format!("no access entry with a policy for {role}"),
                format!("kubectl argocd-eks add {arn} --capability-role {role}"),
            ),
            _ => Finding::cannot_tell(check, "the access entry could not be read"),
        },
    );
    findings.push(connection_finding(target, hub.capability_role.as_ref()));
    Section { title, findings }
}

/// For a cluster that reads only aws-auth: its mapRoles must name the role by its role ARN
/// without path (aws-auth compares that form), never by an assumed-role session ARN.
fn aws_auth_finding(principal: Option<&RoleArn>, aws_auth: &Option<Option<String>>) -> Finding {
    let check = "aws-auth maps the role (the cluster takes no access entries)";
    let Some(principal) = principal else {
        return Finding::cannot_tell(check, "the role that reaches the cluster is unknown");
    };
    let without_path = format!(
        "arn:{}:iam::{}:role/{}",
        principal.partition,
        principal.account,
        principal.name()
    );
    let session_prefix = format!(
        "arn:{}:sts::{}:assumed-role/{}/",
        principal.partition,
        principal.account,
        principal.name()
    );
    let fix = format!(
        "kubectl -n kube-system edit configmap aws-auth on that cluster, and in mapRoles use:\n    - rolearn: {without_path}\n      username: argocd\n      groups:\n        - system:masters"
    );
    let text = match aws_auth {
        None => {
            return Finding::cannot_tell(
                check,
                "there is no kube context for this cluster here (aws eks update-kubeconfig --name <cluster>), so its aws-auth was not read",
            );
        }
        Some(None) => return Finding::fail(check, "there is no aws-auth ConfigMap", fix),
        Some(Some(text)) => text,
    };
    let entries: Vec<MapRole> = match serde_saphyr::from_str(text) {
        Ok(entries) => entries,
        Err(e) => return Finding::fail(check, format!("mapRoles is not valid YAML: {e}"), fix),
    };
    if let Some(entry) = entries.iter().find(|e| e.rolearn == without_path) {
        return Finding::pass(
            check,
            format!("{without_path} -> {}", entry.groups.join(", ")),
        );
    }
    if let Some(entry) = entries
        .iter()
        .find(|e| e.rolearn.starts_with(&session_prefix))
    {
        return Finding::fail(
            check,
            format!(
                "mapRoles has the assumed-role session ARN {}; aws-auth matches the role ARN",
                entry.rolearn
            ),
            fix,
        );
    }
    if entries.iter().any(|e| e.rolearn == principal.to_string()) {
        return Finding::fail(
            check,
            format!(
                "mapRoles has {principal} with its path; aws-auth matches the role ARN without the path"
            ),
            fix,
        );
    }
    Finding::fail(check, format!("no mapRoles entry for {without_path}"), fix)
}

fn connection_finding(target: &TargetFacts, principal: Option<&RoleArn>) -> Finding {
    let check = "Argo CD's token is accepted by the cluster (connect)";
    match &target.connection {
        Some(Connection::Authenticated { username, groups }) => Finding::pass(
            check,
            format!("authenticated as {username} (groups {})", groups.join(", ")),
        ),
        Some(Connection::Rejected) => Finding::fail(
            check,
            format!(
                "the cluster answered 401 to a token for {}: the role is not mapped into it",
                principal.map_or("the role".to_owned(), ToString::to_string)
            ),
            "give the role an access entry with a policy (see the access check above), or map it in aws-auth",
        ),
        Some(Connection::CannotAssume(why)) => Finding::cannot_tell(check, why.clone()),
        Some(Connection::Unreachable(why)) => Finding::cannot_tell(
            check,
            format!("the endpoint is not reachable from here: {why}"),
        ),
        None => Finding::cannot_tell(
            check,
            "not attempted (the cluster or the roles are unknown)",
        ),
    }
}

fn chain_checks(
    hub: &HubFacts,
    target: &TargetFacts,
    target_role: &RoleArn,
    management: &RoleArn,
    pod_identity: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let actions: &[&str] = if pod_identity {
        &[ASSUME_ROLE, TAG_SESSION]
    } else {
        &[ASSUME_ROLE]
    };
    let session = RequestPrincipal::Aws(management.to_string());
    if target_role == management {
        // Argo CD still calls sts:AssumeRole on roleARN: the role must trust itself (#17064).
        let check = "roleARN is the management role: it trusts itself";
        let fix = format!(
            "remove roleARN from the Secret (direct mode), or add to the role's trust policy: {}",
            serde_json::to_string(&trust::self_assume_statement(management, pod_identity))
                .unwrap_or_default()
        );
        findings.push(
            match hub.management_role.as_ref().and_then(|r| r.trust.as_ref()) {
                Some(doc) => {
                    let missing =
                        trust::missing_actions(doc, &Request::new(ASSUME_ROLE, session), actions);
                    if missing.is_empty() {
                        Finding::pass(check, "self-assume allowed")
                    } else {
                        Finding::fail(check, format!("denied: {}", missing.join(", ")), fix)
                    }
                }
                None => Finding::cannot_tell(check, "the management role could not be read"),
            },
        );
        return findings;
    }
    let check = "the management role may sts:AssumeRole the target role";
    findings.push(match &hub.management_role {
        Some(RoleFacts { permissions, .. }) => {
            let request = Request::new(ASSUME_ROLE, session.clone()).with_resource(&target_role.to_string());
            let allowed = permissions.iter().any(|doc| trust::allows(doc, &request).is_allowed());
            if allowed {
                Finding::pass(check, format!("on {target_role}"))
            } else {
                let wanted = trust::management_permissions(std::slice::from_ref(target_role), pod_identity);
                Finding::fail(
                    check,
                    "no permission policy of the management role allows it",
                    format!(
                        "aws iam put-role-policy --role-name {} --policy-name kubectl-argocd-eks --policy-document '{}'",
                        management.name(),
                        wanted.as_ref().map(json).unwrap_or_default()
                    ),
                )
            }
        }
        None => Finding::cannot_tell(check, "the management role could not be read"),
    });
    let check = if pod_identity {
        "the target role trusts the management role (AssumeRole + TagSession)"
    } else {
        "the target role trusts the management role"
    };
    findings.push(match &target.target_role {
        Some(RoleFacts { trust: Some(doc), .. }) => {
            let missing = trust::missing_actions(doc, &Request::new(ASSUME_ROLE, session), actions);
            if missing.is_empty() {
                Finding::pass(check, "allowed")
            } else {
                let wanted = trust::target_role_trust(management, pod_identity);
                Finding::fail(
                    check,
                    format!("denied: {}{}", missing.join(", "), if missing.iter().any(|a| a == TAG_SESSION) { " (pod identity's session tags are transitive, so a chained role must allow sts:TagSession)" } else { "" }),
                    format!("in account {}: {}", target_role.account, update_trust_fix(target_role, &wanted)),
                )
            }
        }
        Some(RoleFacts { trust: None, .. }) => Finding::fail(check, format!("role {target_role} does not exist"), format!("kubectl argocd-eks policy --create --role-arn {target_role}")),
        None => Finding::cannot_tell(check, format!("the target role could not be read (reach account {} with --assume-role)", target_role.account)),
    });
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::AuthenticationMode;
    use crate::core::secret::{OwnedFields, SecretOptions, desired_secret};

    const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";

    fn hub(irsa_role: Option<&str>) -> HubFacts {
        HubFacts {
            namespace: "argocd".into(),
            service_accounts: crate::core::model::ARGOCD_SERVICE_ACCOUNTS
                .iter()
                .map(|(name, _)| ObservedServiceAccount {
                    name: (*name).into(),
                    irsa_role: irsa_role.map(str::to_owned),
                    irsa_changed_at: Some(100),
                })
                .collect(),
            may_create_secrets: Some(true),
            ..HubFacts::default()
        }
    }

    fn cluster() -> EksCluster {
        EksCluster {
            arn: ClusterArn::new("aws", "eu-west-1", "123456789012", "prod"),
            endpoint: "https://P.gr7.eu-west-1.eks.amazonaws.com".into(),
            ca_data: "Q0E=".into(),
            status: "ACTIVE".into(),
            version: None,
            oidc_issuer: None,
            authentication_mode: Some(AuthenticationMode::Api),
        }
    }

    fn target(role: Option<&str>) -> TargetFacts {
        let role = role.map(|r| RoleArn::parse(r).unwrap());
        let options = SecretOptions {
            namespace: "argocd".into(),
            ..SecretOptions::default()
        };
        let desired = desired_secret(&cluster(), role.as_ref(), &options);
        TargetFacts {
            secret: ObservedSecret {
                namespace: desired.namespace,
                name: desired.name,
                labels: desired.labels,
                annotations: desired.annotations,
                data: desired.data,
                owned: OwnedFields::default(),
            },
            cluster_arn: Some(cluster().arn),
            described: Some(Some(cluster())),
            target_role: None,
            access_entry: Some(Some(vec![AccessPolicyAssociation {
                policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                    .into(),
                scope: crate::core::model::AccessScope::Cluster,
            }])),
            connection: Some(Connection::Authenticated {
                username: "argocd".into(),
                groups: vec!["system:masters".into()],
            }),
            aws_auth: None,
        }
    }

    fn statuses(section: &Section) -> Vec<(String, Status)> {
        section
            .findings
            .iter()
            .map(|f| (f.check.clone(), f.status))
            .collect()
    }

    fn failed<'a>(section: &'a Section, check: &str) -> &'a Finding {
        section
            .findings
            .iter()
            .find(|f| f.check.contains(check) && f.status == Status::Fail)
            .unwrap_or_else(|| panic!("{check} did not fail: {:?}", statuses(section)))
    }

    #[test]
    fn identity_is_the_annotation_first_then_the_association() {
        let mut facts = hub(Some(MANAGEMENT));
        assert_eq!(
            detect_identity(&facts),
            Some((IdentityMode::Irsa, MANAGEMENT.into()))
        );
        facts.associations.push(PodIdentityAssociation {
            id: "a-1".into(),
            service_account: SaRef::new("argocd", "argocd-application-controller"),
            role_arn: "arn:aws:iam::123456789012:role/other".into(),
            managed_by_us: true,
            changed_at: None,
        });
        // Both: SDKs use IRSA, and doctor says the service account has two identities.
        assert_eq!(detect_identity(&facts).unwrap().0, IdentityMode::Irsa);
        let both = identity_checks(&facts);
        assert!(both.findings[0].check.contains("one identity"), "{both:?}");
        assert_eq!(both.findings[0].status, Status::Fail);
        let mut pod_identity_only = hub(None);
        pod_identity_only.associations = facts.associations.clone();
        assert_eq!(
            detect_identity(&pod_identity_only).unwrap().0,
            IdentityMode::PodIdentity
        );
        assert!(identity_checks(&hub(None)).failed());
    }

    #[test]
    fn a_direct_registration_that_matches_passes() {
        let section = target_checks(&hub(Some(MANAGEMENT)), &target(None));
        assert!(!section.failed(), "{:?}", statuses(&section));
    }

    #[test]
    fn rotated_ca_and_missing_access_entry_fail_with_fixes() {
        let mut facts = target(None);
        let mut rotated = cluster();
        rotated.ca_data = "TkVX".into();
        facts.described = Some(Some(rotated));
        facts.access_entry = Some(None);
        let section = target_checks(&hub(Some(MANAGEMENT)), &facts);
        let ca = failed(&section, "caData");
        assert!(ca.detail.contains("rotated"));
        let access = failed(&section, "access entry");
        let fix = access.fix.as_deref().unwrap();
        assert!(
            fix.contains("create-access-entry") && fix.contains(MANAGEMENT),
            "{fix}"
        );
    }

    #[test]
    fn a_cluster_that_is_gone_and_an_unreadable_one_differ() {
        let mut facts = target(None);
        facts.described = Some(None);
        let section = target_checks(&hub(Some(MANAGEMENT)), &facts);
        assert!(
            failed(&section, "DescribeCluster")
                .detail
                .contains("no longer exists")
        );
        facts.described = None;
        facts.access_entry = None;
        let section = target_checks(&hub(Some(MANAGEMENT)), &facts);
        assert!(!section.failed(), "{:?}", statuses(&section));
        assert!(
            section
                .findings
                .iter()
                .any(|f| f.status == Status::CannotTell)
        );
    }

    #[test]
    fn a_chained_role_needs_permission_and_trust() {
        let target_role = "arn:aws:iam::210987654321:role/deployer";
        let mut facts = target(Some(target_role));
        facts.target_role = Some(RoleFacts {
            arn: RoleArn::parse(target_role).unwrap(),
            trust: Some(trust::target_role_trust(
                &RoleArn::parse(MANAGEMENT).unwrap(),
                false,
            )),
            permissions: vec![],
        });
        let mut hub = hub(Some(MANAGEMENT));
        hub.management_role = Some(RoleFacts {
            arn: RoleArn::parse(MANAGEMENT).unwrap(),
            trust: None,
            permissions: vec![],
        });
        let section = target_checks(&hub, &facts);
        let permission = failed(&section, "may sts:AssumeRole");
        assert!(permission.fix.as_deref().unwrap().contains(target_role));

        let role = RoleArn::parse(target_role).unwrap();
        hub.management_role.as_mut().unwrap().permissions =
            vec![trust::management_permissions(&[role], false).unwrap()];
        assert!(!target_checks(&hub, &facts).failed());
    }

    #[test]
    fn pods_started_before_the_identity_changed_must_restart() {
        let mut facts = hub(Some(MANAGEMENT));
        facts.identity_changed_at = Some(100);
        facts.pods = vec![PodFacts {
            name: "argocd-server-1".into(),
            service_account: "argocd-server".into(),
            created: 99,
        }];
        assert_eq!(restart_check(&facts).status, Status::Fail);
        facts.pods[0].created = 100;
        assert_eq!(restart_check(&facts).status, Status::Pass);
        facts.identity_changed_at = None;
        assert_eq!(restart_check(&facts).status, Status::CannotTell);
    }

    #[test]
    fn aws_auth_must_map_the_role_arn_without_path() {
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/teams/deployer").unwrap();
        let finding = |text: &str| aws_auth_finding(Some(&role), &Some(Some(text.to_owned())));
        let good =
            "- rolearn: arn:aws:iam::123456789012:role/deployer\n  groups: [system:masters]\n";
        assert_eq!(finding(good).status, Status::Pass);
        let session = "- rolearn: arn:aws:sts::123456789012:assumed-role/deployer/argocd\n";
        assert!(finding(session).detail.contains("assumed-role session ARN"));
        let with_path = "- rolearn: arn:aws:iam::123456789012:role/teams/deployer\n";
        assert!(finding(with_path).detail.contains("without the path"));
        assert_eq!(finding("[]").status, Status::Fail);
        assert_eq!(
            aws_auth_finding(Some(&role), &None).status,
            Status::CannotTell
        );
        let missing = aws_auth_finding(Some(&role), &Some(None));
        assert!(
            missing
                .fix
                .unwrap()
                .contains("rolearn: arn:aws:iam::123456789012:role/deployer")
        );
    }
}
