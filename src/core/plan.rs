//! Desired registration + observed hub state -> the plan of actions (create / update / unchanged).

use serde::Serialize;

use super::access::{ObservedAccess, TargetAccess, access_actions};
use super::action::{Action, Change, Step};
use super::model::{
    ARGOCD_SERVICE_ACCOUNTS, ClusterArn, EksCluster, IRSA_ANNOTATION, IdentityMode,
    ObservedServiceAccount, PodIdentityAssociation, RoleArn, SaRef,
};
use super::secret::{
    ObservedSecret, SecretOptions, desired_capability_secret, desired_secret, secret_differences,
};

/// How Argo CD's pods reach AWS: one choice for the hub, shared by every registered cluster.
#[derive(Debug, Clone)]
pub(crate) struct HubIdentity {
    /// The namespace Argo CD runs in.
    pub(crate) namespace: String,
    /// The role Argo CD's pods run as.
    pub(crate) management_role: RoleArn,
    pub(crate) mode: IdentityMode,
    /// The hub's own EKS cluster; pod identity associations live there.
    pub(crate) hub_cluster: Option<ClusterArn>,
    /// Switch service accounts that already use another role (else that is a conflict).
    pub(crate) replace_identity: bool,
}

/// What the user asked for, for one target cluster.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub(crate) cluster: EksCluster,
    /// The role in the target's account that Argo CD assumes; None is direct mode.
    pub(crate) target_role: Option<RoleArn>,
    pub(crate) secret: SecretOptions,
    /// The access to give the role that reaches the target; None leaves target access alone.
    pub(crate) access: Option<TargetAccess>,
}

impl Registration {
    /// The role the target must let in: the target role, or the management role when direct.
    pub(crate) fn principal<'a>(&'a self, identity: &'a HubIdentity) -> &'a RoleArn {
        self.target_role
            .as_ref()
            .unwrap_or(&identity.management_role)
    }
}

/// What observe() read from the hub and AWS before planning.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    /// Every Argo CD cluster Secret in the namespace, plus the Secret at the target name if any.
    pub(crate) secrets: Vec<ObservedSecret>,
    pub(crate) service_accounts: Vec<ObservedServiceAccount>,
    /// Pod identity associations in the Argo CD namespace (pod identity mode only).
    pub(crate) associations: Vec<PodIdentityAssociation>,
    /// Each target's access entry for the principal that must reach it.
    pub(crate) access: ObservedAccess,
}

/// Everything `add` would do, in the order it must be applied: identity first, the Secrets
/// last, so Argo CD never sees a registration whose identity is not in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Plan {
    pub(crate) clusters: Vec<ClusterArn>,
    pub(crate) identity: IdentityMode,
    pub(crate) actions: Vec<Action>,
    /// Things the user should know that are not writes (restart needed, shadowing annotations).
    pub(crate) notes: Vec<String>,
}

impl Plan {
    pub(crate) fn writes(&self) -> impl Iterator<Item = &Action> {
        self.actions
            .iter()
            .filter(|action| action.change != Change::Unchanged)
    }

    pub(crate) fn is_noop(&self) -> bool {
        self.writes().next().is_none()
    }

    /// Pods pick up a new identity only when restarted.
    pub(crate) fn needs_restart(&self) -> bool {
        self.writes().any(|action| action.step.changes_identity())
    }
}

/// Why no plan can be made; each names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlanError {
    #[error(
        "Secret {namespace}/{name} already exists for another server ({server}) and was not made by kubectl-argocd-eks; pass --secret-name to register under another name"
    )]
    SecretNameTaken {
        namespace: String,
        name: String,
        server: String,
    },
    #[error(
        "{cluster} is already registered with Argo CD as Secret {namespace}/{name}; pass --secret-name {name} to update that registration"
    )]
    AlreadyRegistered {
        cluster: String,
        namespace: String,
        name: String,
    },
    #[error(
        "service account {service_account} was not found; is Argo CD installed in namespace {namespace}? Pass --argocd-namespace with the namespace Argo CD runs in"
    )]
    ServiceAccountMissing {
        service_account: SaRef,
        namespace: String,
    },
    #[error(
        "{service_account} already uses role {current} ({how}); pass --management-role-arn {current} to keep it, or --replace-identity to switch it to {wanted}"
    )]
    IdentityInUse {
        service_account: SaRef,
        current: String,
        wanted: String,
        how: &'static str,
    },
    #[error(
        "pod identity needs the hub's own EKS cluster name and it could not be found from the kube context; pass --hub-cluster NAME or use --identity irsa"
    )]
    HubClusterUnknown,
    #[error(
        "{cluster} is in partition {cluster_partition}, but role {role} is in {role_partition}: IAM roles cannot be assumed across partitions, so Argo CD could never reach it; use roles in {cluster_partition} (arn:{cluster_partition}:iam::...) with credentials for that partition"
    )]
    CrossPartition {
        cluster: String,
        cluster_partition: String,
        role: String,
        role_partition: String,
    },
}

/// The roles on the way to a target must be in its partition: STS in one partition cannot
/// assume a role of another, and EKS maps only its own partition's principals.
fn check_partitions(identity: &HubIdentity, registration: &Registration) -> Result<(), PlanError> {
    let cluster = &registration.cluster.arn;
    let roles = std::iter::once(&identity.management_role).chain(&registration.target_role);
    for role in roles {
        if role.partition != cluster.partition {
            return Err(PlanError::CrossPartition {
                cluster: cluster.to_string(),
                cluster_partition: cluster.partition.clone(),
                role: role.to_string(),
                role_partition: role.partition.clone(),
            });
        }
    }
    Ok(())
}

/// Plan the hub's identity and every registration against what was observed. Pure: no I/O.
pub(crate) fn plan(
    identity: &HubIdentity,
    registrations: &[Registration],
    observed: &Observed,
) -> Result<Plan, PlanError> {
    let namespace = &identity.namespace;
    let mut actions = Vec::new();
    let mut notes = Vec::new();

    // The EKS Argo CD capability has no service accounts of ours to give an identity.
    let service_accounts: &[(&str, bool)] = match identity.mode {
        IdentityMode::Capability => &[],
        IdentityMode::Irsa | IdentityMode::PodIdentity => &ARGOCD_SERVICE_ACCOUNTS,
    };
    for &(name, required) in service_accounts {
        let service_account = SaRef::new(namespace, name);
        let Some(sa) = observed.service_accounts.iter().find(|sa| sa.name == name) else {
            if required {
                return Err(PlanError::ServiceAccountMissing {
                    service_account,
                    namespace: namespace.clone(),
                });
            }
            continue;
        };
        let action = match identity.mode {
            IdentityMode::Irsa => irsa_action(identity, sa, service_account)?,
            IdentityMode::PodIdentity => {
                if let Some(role) = &sa.irsa_role {
                    notes.push(format!(
                        "{service_account} also carries the IRSA annotation {IRSA_ANNOTATION}={role}; AWS SDKs prefer it over pod identity, so remove it once pod identity works"
                    ));
                }
                let hub_cluster = identity
                    .hub_cluster
                    .clone()
                    .ok_or(PlanError::HubClusterUnknown)?;
                pod_identity_action(identity, observed, hub_cluster, service_account)?
            }
            IdentityMode::Capability => continue,
        };
        actions.push(action);
    }

    let this_run: Vec<String> = registrations
        .iter()
        .map(|r| {
            r.secret
                .secret_name
                .clone()
                .unwrap_or_else(|| super::secret::default_secret_name(&r.cluster.arn))
        })
        .collect();
    for registration in registrations {
        check_partitions(identity, registration)?;
        if let Some(access) = &registration.access {
            let principal = registration.principal(identity);
            let (steps, note) =
                access_actions(&registration.cluster, principal, access, &observed.access);
            actions.extend(steps);
            notes.extend(note);
        }
        actions.push(secret_action(identity, registration, observed, &this_run)?);
    }

    Ok(Plan {
        clusters: registrations
            .iter()
            .map(|r| r.cluster.arn.clone())
            .collect(),
        identity: identity.mode,
        actions,
        notes,
    })
}

fn irsa_action(
    identity: &HubIdentity,
    sa: &ObservedServiceAccount,
    service_account: SaRef,
) -> Result<Action, PlanError> {
    let wanted = identity.management_role.to_string();
    let (change, detail) = match &sa.irsa_role {
        None => (Change::Create, format!("set to {wanted}")),
        Some(current) if *current == wanted => (Change::Unchanged, format!("already {wanted}")),
        Some(current) if identity.replace_identity => {
            (Change::Update, format!("{current} -> {wanted}"))
        }
        Some(current) => {
            return Err(PlanError::IdentityInUse {
                service_account,
                current: current.clone(),
                wanted,
                how: "IRSA annotation",
            });
        }
    };
    Ok(Action {
        change,
        detail,
        step: Step::AnnotateServiceAccount {
            service_account,
            role_arn: identity.management_role.clone(),
        },
    })
}

fn pod_identity_action(
    identity: &HubIdentity,
    observed: &Observed,
    hub_cluster: ClusterArn,
    service_account: SaRef,
) -> Result<Action, PlanError> {
    let wanted = identity.management_role.to_string();
    let existing = observed
        .associations
        .iter()
        .find(|association| association.service_account == service_account);
    let (change, detail, step) = match existing {
        None => (
            Change::Create,
            format!("role {wanted}"),
            Step::CreatePodIdentityAssociation {
                hub_cluster,
                service_account,
                role_arn: identity.management_role.clone(),
            },
        ),
        Some(association) if association.role_arn == wanted => (
            Change::Unchanged,
            format!("{} already uses {wanted}", association.id),
            Step::CreatePodIdentityAssociation {
                hub_cluster,
                service_account,
                role_arn: identity.management_role.clone(),
            },
        ),
        Some(association) if identity.replace_identity => (
            Change::Update,
            format!("{}: {} -> {wanted}", association.id, association.role_arn),
            Step::UpdatePodIdentityAssociation {
                hub_cluster,
                association_id: association.id.clone(),
                service_account,
                role_arn: identity.management_role.clone(),
            },
        ),
        Some(association) => {
            return Err(PlanError::IdentityInUse {
                service_account,
                current: association.role_arn.clone(),
                wanted,
                how: "pod identity association",
            });
        }
    };
    Ok(Action {
        change,
        step,
        detail,
    })
}

/// `this_run`: the names of every Secret this plan writes (they are no one else's).
fn secret_action(
    identity: &HubIdentity,
    registration: &Registration,
    observed: &Observed,
    this_run: &[String],
) -> Result<Action, PlanError> {
    let desired = match identity.mode {
        IdentityMode::Capability => {
            desired_capability_secret(&registration.cluster, &registration.secret)
        }
        IdentityMode::Irsa | IdentityMode::PodIdentity => desired_secret(
            &registration.cluster,
            registration.target_role.as_ref(),
            &registration.secret,
        ),
    };
    let server = desired.data["server"].clone();
    if registration.secret.secret_name.is_none()
        && let Some(other) = observed.secrets.iter().find(|secret| {
            secret.name != desired.name
                && !this_run.contains(&secret.name)
                && secret.server() == Some(server.as_str())
        })
    {
        return Err(PlanError::AlreadyRegistered {
            cluster: registration.cluster.arn.to_string(),
            namespace: other.namespace.clone(),
            name: other.name.clone(),
        });
    }
    let existing = observed
        .secrets
        .iter()
        .find(|secret| secret.name == desired.name);
    let (change, detail) = match existing {
        None => (Change::Create, format!("server {server}")),
        Some(current) if !current.managed_by_us() && current.server() != Some(server.as_str()) => {
            return Err(PlanError::SecretNameTaken {
                namespace: current.namespace.clone(),
                name: current.name.clone(),
                server: current.server().unwrap_or("none").to_owned(),
            });
        }
        Some(current) => {
            let differences = secret_differences(&desired, current).join(", ");
            if differences.is_empty() {
                (Change::Unchanged, "up to date".to_owned())
            } else if current.managed_by_us() {
                (Change::Update, differences)
            } else {
                (
                    Change::Update,
                    format!("adopt a hand-made Secret: {differences}"),
                )
            }
        }
    };
    Ok(Action {
        change,
        detail,
        step: Step::ApplySecret { secret: desired },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::AccessScope;
    use crate::core::model::AuthenticationMode;
    use crate::core::secret::ObservedSecret;

    const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";
    const TARGET: &str = "arn:aws:iam::210987654321:role/argocd-deployer";

    fn cluster() -> EksCluster {
        EksCluster {
            arn: ClusterArn::new("aws", "eu-west-1", "210987654321", "team-b"),
            endpoint: "https://B.gr7.eu-west-1.eks.amazonaws.com".into(),
            ca_data: "Q0E=".into(),
            status: "ACTIVE".into(),
            version: Some("1.33".into()),
            oidc_issuer: None,
            authentication_mode: Some(AuthenticationMode::Api),
        }
    }

    fn hub_identity(mode: IdentityMode) -> HubIdentity {
        HubIdentity {
            namespace: "argocd".into(),
            management_role: RoleArn::parse(MANAGEMENT).unwrap(),
            mode,
            hub_cluster: Some(ClusterArn::new(
                "aws",
                "us-east-1",
                "123456789012",
                "argocd-hub",
            )),
            replace_identity: false,
        }
    }

    fn registration(target_role: Option<&str>) -> Registration {
        Registration {
            cluster: cluster(),
            target_role: target_role.map(|arn| RoleArn::parse(arn).unwrap()),
            secret: SecretOptions {
                namespace: "argocd".into(),
                ..SecretOptions::default()
            },
            access: None,
        }
    }

    /// Plan one registration.
    fn plan_one(
        identity: &HubIdentity,
        registration: &Registration,
        observed: &Observed,
    ) -> Result<Plan, PlanError> {
        plan(identity, std::slice::from_ref(registration), observed)
    }

    fn fresh_hub() -> Observed {
        Observed {
            service_accounts: ARGOCD_SERVICE_ACCOUNTS
                .iter()
                .map(|(name, _)| ObservedServiceAccount {
                    name: (*name).into(),
                    irsa_role: None,
                    irsa_changed_at: None,
                })
                .collect(),
            ..Observed::default()
        }
    }

    /// The hub as it is after the plan was applied.
    fn applied(plan: &Plan, mut observed: Observed) -> Observed {
        for action in &plan.actions {
            match &action.step {
                Step::ApplySecret { secret } => {
                    observed.secrets.retain(|s| s.name != secret.name);
                    observed.secrets.push(crate::testing::written(secret));
                }
                Step::AnnotateServiceAccount {
                    service_account,
                    role_arn,
                } => {
                    let sa = observed
                        .service_accounts
                        .iter_mut()
                        .find(|sa| sa.name == service_account.name)
                        .unwrap();
                    sa.irsa_role = Some(role_arn.to_string());
                }
                Step::CreatePodIdentityAssociation {
                    service_account,
                    role_arn,
                    ..
                }
                | Step::UpdatePodIdentityAssociation {
                    service_account,
                    role_arn,
                    ..
                } => {
                    observed
                        .associations
                        .retain(|a| a.service_account != *service_account);
                    observed.associations.push(PodIdentityAssociation {
                        id: format!("a-{}", service_account.name),
                        service_account: service_account.clone(),
                        role_arn: role_arn.to_string(),
                        managed_by_us: true,
                        changed_at: None,
                    });
                }
                Step::CreateAccessEntry { cluster, .. } => {
                    observed
                        .access
                        .entry(cluster.to_string())
                        .or_insert(Some(vec![]));
                }
                Step::AssociateAccessPolicy {
                    cluster,
                    policy_arn,
                    scope,
                    ..
                } => {
                    let policies = observed
                        .access
                        .get_mut(&cluster.to_string())
                        .and_then(Option::as_mut)
                        .unwrap();
                    policies.retain(|p| p.policy_arn != *policy_arn);
                    policies.push(crate::core::model::AccessPolicyAssociation {
                        policy_arn: policy_arn.clone(),
                        scope: scope.clone(),
                    });
                }
            }
        }
        observed
    }

    fn changes(plan: &Plan) -> Vec<(Change, String)> {
        plan.actions
            .iter()
            .map(|a| (a.change, a.step.subject()))
            .collect()
    }

    fn secret_config(plan: &Plan) -> serde_json::Value {
        let Step::ApplySecret { secret } = &plan.actions.last().unwrap().step else {
            panic!("the Secret is applied last");
        };
        serde_json::from_str(&secret.data["config"]).unwrap()
    }

    #[test]
    fn irsa_chained_annotates_every_sa_then_creates_the_secret() {
        let plan = plan_one(
            &hub_identity(IdentityMode::Irsa),
            &registration(Some(TARGET)),
            &fresh_hub(),
        )
        .unwrap();
        let name = crate::core::secret::default_secret_name(&cluster().arn);
        assert_eq!(
            changes(&plan),
            vec![
                (
                    Change::Create,
                    "ServiceAccount argocd/argocd-application-controller annotation eks.amazonaws.com/role-arn".into()
                ),
                (
                    Change::Create,
                    "ServiceAccount argocd/argocd-server annotation eks.amazonaws.com/role-arn".into()
                ),
                (
                    Change::Create,
                    "ServiceAccount argocd/argocd-applicationset-controller annotation eks.amazonaws.com/role-arn".into()
                ),
                (Change::Create, format!("Secret argocd/{name}")),
            ]
        );
        assert_eq!(secret_config(&plan)["awsAuthConfig"]["roleARN"], TARGET);
        assert!(plan.needs_restart());
    }

    #[test]
    fn irsa_direct_omits_role_arn() {
        let plan = plan_one(
            &hub_identity(IdentityMode::Irsa),
            &registration(None),
            &fresh_hub(),
        )
        .unwrap();
        assert_eq!(
            secret_config(&plan)["awsAuthConfig"],
            serde_json::json!({"clusterName": "team-b"})
        );
    }

    #[test]
    fn pod_identity_chained_creates_associations_on_the_hub() {
        let plan = plan_one(
            &hub_identity(IdentityMode::PodIdentity),
            &registration(Some(TARGET)),
            &fresh_hub(),
        )
        .unwrap();
        let steps: Vec<&Step> = plan.actions.iter().map(|a| &a.step).collect();
        assert!(matches!(
            steps[0],
            Step::CreatePodIdentityAssociation { hub_cluster, service_account, role_arn }
                if hub_cluster.name == "argocd-hub"
                    && service_account.name == "argocd-application-controller"
                    && role_arn.to_string() == MANAGEMENT
        ));
        assert_eq!(plan.writes().count(), 4);
        assert_eq!(secret_config(&plan)["awsAuthConfig"]["roleARN"], TARGET);
    }

    #[test]
    fn pod_identity_direct_omits_role_arn() {
        let plan = plan_one(
            &hub_identity(IdentityMode::PodIdentity),
            &registration(None),
            &fresh_hub(),
        )
        .unwrap();
        assert!(
            secret_config(&plan)["awsAuthConfig"]
                .get("roleARN")
                .is_none()
        );
    }

    #[test]
    fn second_run_plans_nothing_in_both_modes() {
        for identity in [IdentityMode::Irsa, IdentityMode::PodIdentity] {
            for target in [None, Some(TARGET)] {
                let (hub, registration) = (hub_identity(identity), registration(target));
                let first = plan_one(&hub, &registration, &fresh_hub()).unwrap();
                let after = applied(&first, fresh_hub());
                let second = plan_one(&hub, &registration, &after).unwrap();
                assert!(second.is_noop(), "{identity} {target:?}: {second:?}");
                assert!(!second.needs_restart());
            }
        }
    }

    #[test]
    fn missing_optional_sa_is_skipped_and_missing_required_sa_is_an_error() {
        let mut hub = fresh_hub();
        hub.service_accounts
            .retain(|sa| sa.name != "argocd-applicationset-controller");
        let irsa = hub_identity(IdentityMode::Irsa);
        let plan = plan_one(&irsa, &registration(None), &hub).unwrap();
        assert_eq!(plan.actions.len(), 3);

        hub.service_accounts.retain(|sa| sa.name != "argocd-server");
        let error = plan_one(&irsa, &registration(None), &hub).unwrap_err();
        assert!(matches!(error, PlanError::ServiceAccountMissing { .. }));
        assert!(error.to_string().contains("--argocd-namespace"));
    }

    #[test]
    fn another_role_on_an_sa_is_a_conflict_unless_replacing() {
        let other = "arn:aws:iam::123456789012:role/other";
        let mut hub = fresh_hub();
        hub.service_accounts[1].irsa_role = Some(other.into());
        let mut identity = hub_identity(IdentityMode::Irsa);
        let error = plan_one(&identity, &registration(None), &hub).unwrap_err();
        assert!(error.to_string().contains("--replace-identity"), "{error}");

        identity.replace_identity = true;
        let plan = plan_one(&identity, &registration(None), &hub).unwrap();
        assert_eq!(plan.actions[1].change, Change::Update);
        assert!(plan.actions[1].detail.contains(other));
    }

    #[test]
    fn another_association_is_a_conflict_unless_replacing() {
        let mut hub = fresh_hub();
        hub.associations.push(PodIdentityAssociation {
            id: "a-123".into(),
            service_account: SaRef::new("argocd", "argocd-server"),
            role_arn: "arn:aws:iam::123456789012:role/other".into(),
            managed_by_us: true,
            changed_at: None,
        });
        let mut identity = hub_identity(IdentityMode::PodIdentity);
        assert!(matches!(
            plan_one(&identity, &registration(None), &hub),
            Err(PlanError::IdentityInUse { .. })
        ));
        identity.replace_identity = true;
        let plan = plan_one(&identity, &registration(None), &hub).unwrap();
        assert!(matches!(
            &plan.actions[1].step,
            Step::UpdatePodIdentityAssociation { association_id, .. } if association_id == "a-123"
        ));
    }

    #[test]
    fn pod_identity_without_hub_cluster_names_the_flag() {
        let mut identity = hub_identity(IdentityMode::PodIdentity);
        identity.hub_cluster = None;
        let error = plan_one(&identity, &registration(None), &fresh_hub()).unwrap_err();
        assert!(error.to_string().contains("--hub-cluster"));
    }

    #[test]
    fn pod_identity_notes_a_shadowing_irsa_annotation() {
        let mut hub = fresh_hub();
        hub.service_accounts[0].irsa_role = Some(MANAGEMENT.into());
        let plan = plan_one(
            &hub_identity(IdentityMode::PodIdentity),
            &registration(None),
            &hub,
        )
        .unwrap();
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].contains("IRSA annotation"));
    }

    fn foreign_secret(name: &str, server: &str) -> ObservedSecret {
        ObservedSecret {
            namespace: "argocd".into(),
            name: name.into(),
            data: [("server".to_string(), server.to_string())].into(),
            ..ObservedSecret::default()
        }
    }

    #[test]
    fn someone_elses_secret_at_the_name_is_never_clobbered() {
        let mut registration = registration(None);
        registration.secret.secret_name = Some("prod".into());
        let mut hub = fresh_hub();
        hub.secrets
            .push(foreign_secret("prod", "https://elsewhere.example"));
        assert!(matches!(
            plan_one(&hub_identity(IdentityMode::Irsa), &registration, &hub),
            Err(PlanError::SecretNameTaken { .. })
        ));
    }

    #[test]
    fn a_hand_made_secret_for_the_same_server_is_adopted() {
        let mut registration = registration(None);
        registration.secret.secret_name = Some("prod".into());
        let mut hub = fresh_hub();
        hub.secrets
            .push(foreign_secret("prod", &cluster().endpoint));
        let plan = plan_one(&hub_identity(IdentityMode::Irsa), &registration, &hub).unwrap();
        let last = plan.actions.last().unwrap();
        assert_eq!(last.change, Change::Update);
        assert!(last.detail.starts_with("adopt"), "{}", last.detail);
    }

    #[test]
    fn same_server_under_another_name_points_at_that_registration() {
        let mut hub = fresh_hub();
        hub.secrets.push(foreign_secret("old", &cluster().endpoint));
        let error =
            plan_one(&hub_identity(IdentityMode::Irsa), &registration(None), &hub).unwrap_err();
        assert!(error.to_string().contains("--secret-name old"), "{error}");
    }

    #[test]
    fn roles_of_another_partition_cannot_reach_a_target() {
        let hub = fresh_hub();
        let mut china = registration(None);
        china.cluster.arn = ClusterArn::new("aws-cn", "cn-north-1", "210987654321", "prod");
        let error = plan_one(&hub_identity(IdentityMode::Irsa), &china, &hub).unwrap_err();
        assert!(
            matches!(&error, PlanError::CrossPartition { role_partition, .. } if role_partition == "aws"),
            "{error}"
        );
        let mut commercial = registration(Some("arn:aws-us-gov:iam::210987654321:role/deployer"));
        commercial.cluster = cluster();
        let error = plan_one(&hub_identity(IdentityMode::Irsa), &commercial, &hub).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot be assumed across partitions"),
            "{error}"
        );
    }

    fn with_access(mut registration: Registration) -> Registration {
        registration.access = Some(TargetAccess {
            policy: "AmazonEKSClusterAdminPolicy".into(),
            scope: AccessScope::Cluster,
        });
        registration
    }

    #[test]
    fn access_goes_to_the_target_role_when_chained_and_the_management_role_when_direct() {
        let identity = hub_identity(IdentityMode::Irsa);
        for (target, principal) in [(Some(TARGET), TARGET), (None, MANAGEMENT)] {
            let plan =
                plan_one(&identity, &with_access(registration(target)), &fresh_hub()).unwrap();
            let entry = plan
                .actions
                .iter()
                .find_map(|a| match &a.step {
                    Step::CreateAccessEntry { principal_arn, .. } => {
                        Some(principal_arn.to_string())
                    }
                    _ => None,
                })
                .unwrap();
            assert_eq!(entry, principal);
            // Access first, the Secret last.
            assert!(matches!(
                plan.actions.last().unwrap().step,
                Step::ApplySecret { .. }
            ));
            assert!(matches!(
                plan.actions[plan.actions.len() - 2].step,
                Step::AssociateAccessPolicy { .. }
            ));
        }
    }

    #[test]
    fn several_clusters_share_one_identity_and_second_run_is_a_no_op() {
        let identity = hub_identity(IdentityMode::PodIdentity);
        let mut other = with_access(registration(Some(TARGET)));
        other.cluster.arn.name = "team-c".into();
        other.cluster.endpoint = "https://c.example".into();
        let registrations = vec![with_access(registration(Some(TARGET))), other];
        let first = plan(&identity, &registrations, &fresh_hub()).unwrap();
        let associations = first
            .actions
            .iter()
            .filter(|a| matches!(a.step, Step::CreatePodIdentityAssociation { .. }))
            .count();
        let secrets = first
            .actions
            .iter()
            .filter(|a| matches!(a.step, Step::ApplySecret { .. }))
            .count();
        assert_eq!((associations, secrets, first.writes().count()), (3, 2, 9));
        assert_eq!(first.clusters.len(), 2);
        let second = plan(&identity, &registrations, &applied(&first, fresh_hub())).unwrap();
        assert!(second.is_noop(), "{second:?}");
    }

    #[test]
    fn two_clusters_of_this_run_sharing_an_endpoint_are_not_each_others_registration() {
        let identity = hub_identity(IdentityMode::Irsa);
        let mut twin = registration(None);
        twin.cluster.arn.name = "twin".into();
        let registrations = vec![registration(None), twin];
        let first = plan(&identity, &registrations, &fresh_hub()).unwrap();
        let after = applied(&first, fresh_hub());
        assert!(plan(&identity, &registrations, &after).unwrap().is_noop());
    }
}
