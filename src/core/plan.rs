//! Desired registration + observed hub state -> the plan of actions (create / update / unchanged).

use serde::Serialize;

use super::access::{ObservedAccess, TargetAccess, access_actions};
use super::action::{Action, Change, Step};
use super::model::{
    ARGOCD_SERVICE_ACCOUNTS, ClusterArn, EksCluster, IRSA_ANNOTATION, IdentityMode,
    ObservedServiceAccount, PodIdentityAssociation, RoleArn, SaRef,
};
use super::secret::{ObservedSecret, SecretOptions};

use super::plan_error::check_partitions;
pub(crate) use super::plan_error::{PlanError, check_ready};

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
    /// Pod identity's native chaining: the associations' `targetRoleArn`. EKS assumes it for
    /// the pods, so the Secrets need no roleARN and the target lets this role in.
    pub(crate) native_target: Option<RoleArn>,
}

impl HubIdentity {
    /// The role Argo CD's pods end up with: the native chaining target, else the management role.
    pub(crate) fn pods_role(&self) -> &RoleArn {
        self.native_target.as_ref().unwrap_or(&self.management_role)
    }
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
    /// The role the target must let in: the target role, or the pods' own role when direct.
    pub(crate) fn principal<'a>(&'a self, identity: &'a HubIdentity) -> &'a RoleArn {
        self.target_role
            .as_ref()
            .unwrap_or_else(|| identity.pods_role())
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

/// When Argo CD's identity in its namespace last changed, as observed: the newest of this
/// tool's IRSA annotations or of the pod identity associations; None when unknown.
pub(crate) fn identity_changed_at(identity: &HubIdentity, observed: &Observed) -> Option<i64> {
    match identity.mode {
        IdentityMode::Irsa => observed
            .service_accounts
            .iter()
            .filter_map(|sa| sa.irsa_changed_at)
            .max(),
        IdentityMode::PodIdentity => observed
            .associations
            .iter()
            .filter_map(|a| a.changed_at)
            .max(),
        IdentityMode::Capability => None,
    }
}

/// Plan the hub's identity and every registration against what was observed. Pure: no I/O.
pub(crate) fn plan(
    identity: &HubIdentity,
    registrations: &[Registration],
    observed: &Observed,
) -> Result<Plan, PlanError> {
    for registration in registrations {
        check_ready(&registration.cluster)?;
    }
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
    // Native chaining changes the role of every Argo CD pod: refuse while other registrations
    // reach their clusters from the pods' current role.
    let changes_pods_role = actions.iter().any(|a| {
        a.change != Change::Unchanged
            && matches!(
                a.step,
                Step::CreatePodIdentityAssociation { .. }
                    | Step::UpdatePodIdentityAssociation { .. }
            )
    });
    if let (Some(target), true) = (&identity.native_target, changes_pods_role) {
        let others: Vec<String> = observed
            .secrets
            .iter()
            .filter(|s| !this_run.contains(&s.name))
            .filter_map(super::registration::EksRegistration::from_secret)
            .filter(|r| r.format == super::registration::Format::AwsAuth)
            .filter(|r| {
                !registrations
                    .iter()
                    .any(|mine| r.reaches(&mine.cluster.arn, &mine.cluster.endpoint))
            })
            .map(|r| format!("{}/{}", r.namespace, r.secret))
            .collect();
        if !others.is_empty() {
            return Err(PlanError::NativeChainingChangesOthers {
                target: target.to_string(),
                others,
            });
        }
    }
    for registration in registrations {
        check_partitions(identity, registration)?;
        if let Some(access) = &registration.access {
            let principal = registration.principal(identity);
            let (steps, note) =
                access_actions(&registration.cluster, principal, access, &observed.access);
            actions.extend(steps);
            notes.extend(note);
        }
        let (action, note) =
            super::secret_plan::secret_action(identity, registration, observed, &this_run)?;
        actions.push(action);
        notes.extend(note);
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
            previous: sa.irsa_role.clone(),
            resource_version: sa.resource_version.clone(),
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
    let wanted_target = identity.native_target.as_ref().map(ToString::to_string);
    let wanted_text = match &wanted_target {
        Some(target) => format!("{wanted} -> target {target}"),
        None => wanted.clone(),
    };
    let existing = observed
        .associations
        .iter()
        .find(|association| association.service_account == service_account);
    let create = |hub_cluster, service_account| Step::CreatePodIdentityAssociation {
        hub_cluster,
        service_account,
        role_arn: identity.management_role.clone(),
        target_role_arn: identity.native_target.clone(),
    };
    let (change, detail, step) = match existing {
        None => (
            Change::Create,
            format!("role {wanted_text}"),
            create(hub_cluster, service_account),
        ),
        // The pods get the target role when EKS chains to one: it must match too.
        Some(association)
            if association.role_arn == wanted && association.target_role_arn == wanted_target =>
        {
            (
                Change::Unchanged,
                format!(
                    "{} already uses {}",
                    association.id,
                    association.describe_roles()
                ),
                create(hub_cluster, service_account),
            )
        }
        Some(association) if identity.replace_identity => (
            Change::Update,
            format!(
                "{}: {} -> {wanted_text}",
                association.id,
                association.describe_roles()
            ),
            Step::UpdatePodIdentityAssociation {
                hub_cluster,
                association_id: association.id.clone(),
                service_account,
                role_arn: identity.management_role.clone(),
                target_role_arn: identity.native_target.clone(),
            },
        ),
        Some(association) => {
            return Err(PlanError::IdentityInUse {
                service_account,
                current: association.describe_roles(),
                wanted: wanted_text,
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
            auto_mode: false,
            tags: std::collections::BTreeMap::new(),
        }
    }

    #[test]
    fn only_active_or_updating_clusters_are_registered() {
        for (status, ok) in [
            ("ACTIVE", true),
            ("UPDATING", true),
            ("CREATING", false),
            ("PENDING", false),
            ("DELETING", false),
            ("FAILED", false),
        ] {
            let mut target = cluster();
            target.status = status.into();
            match check_ready(&target) {
                Ok(()) => assert!(ok, "{status} was taken"),
                Err(error) => {
                    assert!(!ok, "{status} was refused: {error}");
                    assert!(
                        error
                            .to_string()
                            .contains(&format!("is {status}, not ACTIVE"))
                    );
                }
            }
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
            native_target: None,
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
                    resource_version: None,
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
                    ..
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
                        target_role_arn: None,
                        disable_session_tags: false,
                        external_id: None,
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
            Step::CreatePodIdentityAssociation { hub_cluster, service_account, role_arn, target_role_arn: None }
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
            target_role_arn: None,
            disable_session_tags: false,
            external_id: None,
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
    fn secret_name_for_a_server_another_secret_holds_is_refused_naming_it() {
        let mut registration = registration(None);
        registration.secret.secret_name = Some("prod".into());
        let mut hub = fresh_hub();
        hub.secrets.push(foreign_secret("old", &cluster().endpoint));
        let error = plan_one(&hub_identity(IdentityMode::Irsa), &registration, &hub).unwrap_err();
        assert!(matches!(error, PlanError::ServerTaken { .. }), "{error}");
        let text = error.to_string();
        assert!(
            text.contains("argocd/old") && text.contains("--secret-name old"),
            "{text}"
        );
        // Asking for that one updates it.
        registration.secret.secret_name = Some("old".into());
        let plan = plan_one(&hub_identity(IdentityMode::Irsa), &registration, &hub).unwrap();
        assert!(matches!(&plan.actions.last().unwrap().step,
            Step::ApplySecret { secret } if secret.name == "old"));
    }

    fn argocd_made(endpoint: &str) -> ObservedSecret {
        let mut secret = foreign_secret(
            &crate::core::secret::argocd_secret_name(endpoint).unwrap(),
            endpoint,
        );
        secret.annotations.insert(
            crate::core::secret::ARGOCD_MANAGED_BY_ANNOTATION.into(),
            crate::core::secret::ARGOCD_MANAGED_BY_VALUE.into(),
        );
        secret.data.insert("name".into(), "prod-context".into());
        secret.data.insert(
            "config".into(),
            r#"{"bearerToken":"t","tlsClientConfig":{"insecure":false}}"#.into(),
        );
        secret
    }

    #[test]
    fn a_secret_argocd_cluster_add_made_is_updated_in_place() {
        let made = argocd_made(&cluster().endpoint);
        assert!(
            made.name
                .starts_with("cluster-b.gr7.eu-west-1.eks.amazonaws.com-")
        );
        assert!(made.made_by_argocd());
        let mut hub = fresh_hub();
        hub.secrets.push(made.clone());
        let plan = plan_one(&hub_identity(IdentityMode::Irsa), &registration(None), &hub).unwrap();
        let last = plan.actions.last().unwrap();
        let Step::ApplySecret { secret } = &last.step else {
            panic!("{last:?}");
        };
        assert_eq!(secret.name, made.name, "one Secret per server");
        assert_eq!(secret.data["name"], "prod-context", "Argo CD's name stays");
        assert!(
            secret
                .labels
                .contains_key(crate::core::model::MANAGED_BY_LABEL)
        );
        assert!(!secret.data["config"].contains("bearerToken"));
        assert_eq!(last.change, Change::Update);
        assert!(
            last.detail
                .starts_with("update the Secret argocd cluster add made"),
            "{}",
            last.detail
        );
        assert!(
            plan.notes.iter().any(|n| n.contains("argocd-manager")),
            "{:?}",
            plan.notes
        );
        // An Argo CD Secret beside ours for the same server: two already, refuse.
        let mut both = hub.clone();
        both.secrets.push(ObservedSecret {
            name: crate::core::secret::default_secret_name(&cluster().arn),
            ..foreign_secret("x", &cluster().endpoint)
        });
        assert!(matches!(
            plan_one(
                &hub_identity(IdentityMode::Irsa),
                &registration(None),
                &both
            ),
            Err(PlanError::ServerTaken { .. })
        ));
    }

    #[test]
    fn argocd_names_its_secrets_as_util_db_does() {
        // Values from Go: fnv.New32a over the URL, as URIToSecretName does.
        assert_eq!(
            crate::core::secret::argocd_secret_name("https://ABC.gr7.eu-west-1.eks.amazonaws.com")
                .as_deref(),
            Some("cluster-abc.gr7.eu-west-1.eks.amazonaws.com-3972358267")
        );
        assert_eq!(
            crate::core::secret::argocd_secret_name("https://127.0.0.1:35053").as_deref(),
            Some("cluster-127.0.0.1-4195634521")
        );
    }

    fn association(target: Option<&str>) -> PodIdentityAssociation {
        PodIdentityAssociation {
            id: "a-1".into(),
            service_account: SaRef::new("argocd", "argocd-application-controller"),
            role_arn: MANAGEMENT.into(),
            managed_by_us: true,
            changed_at: None,
            target_role_arn: target.map(str::to_owned),
            disable_session_tags: false,
            external_id: None,
        }
    }

    #[test]
    fn native_chaining_puts_the_target_role_in_the_associations_not_the_secret() {
        let mut identity = hub_identity(IdentityMode::PodIdentity);
        identity.native_target = Some(RoleArn::parse(TARGET).unwrap());
        let plan = plan_one(&identity, &with_access(registration(None)), &fresh_hub()).unwrap();
        assert!(matches!(
            &plan.actions[0].step,
            Step::CreatePodIdentityAssociation { role_arn, target_role_arn: Some(target), .. }
                if role_arn.to_string() == MANAGEMENT && target.to_string() == TARGET
        ));
        assert!(
            plan.actions[0]
                .detail
                .contains(&format!("-> target {TARGET}"))
        );
        assert_eq!(
            secret_config(&plan)["awsAuthConfig"],
            serde_json::json!({"clusterName": "team-b"})
        );
        // The target lets in the role the pods end up with.
        assert!(plan.actions.iter().any(|a| matches!(&a.step,
            Step::CreateAccessEntry { principal_arn, .. } if principal_arn.to_string() == TARGET)));
        // Other registrations reach their clusters from the pods' current role: refused.
        let mut hub = fresh_hub();
        hub.secrets.push(crate::testing::ours(
            "eks-other",
            "other",
            "us-west-2",
            None,
        ));
        let error = plan_one(&identity, &registration(None), &hub).unwrap_err();
        assert!(
            matches!(error, PlanError::NativeChainingChangesOthers { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("argocd/eks-other"), "{error}");
    }

    #[test]
    fn an_association_that_chains_elsewhere_is_not_unchanged() {
        let identity = hub_identity(IdentityMode::PodIdentity);
        let mut hub = fresh_hub();
        hub.associations = vec![association(Some(
            "arn:aws:iam::210987654321:role/elsewhere",
        ))];
        // The pods really run as `elsewhere`: keeping it silently would be wrong.
        let error = plan_one(&identity, &registration(None), &hub).unwrap_err();
        assert!(matches!(error, PlanError::IdentityInUse { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("-> target arn:aws:iam::210987654321:role/elsewhere"),
            "{error}"
        );
        let replacing = HubIdentity {
            replace_identity: true,
            ..identity.clone()
        };
        let plan = plan_one(&replacing, &registration(None), &hub).unwrap();
        let first = &plan.actions[0];
        assert_eq!(first.change, Change::Update);
        assert!(matches!(
            &first.step,
            Step::UpdatePodIdentityAssociation {
                target_role_arn: None,
                ..
            }
        ));
        assert!(first.detail.contains("-> target"), "{}", first.detail);
        // The same role and target is unchanged, and the plan says so.
        let mut chaining = identity;
        chaining.native_target =
            Some(RoleArn::parse("arn:aws:iam::210987654321:role/elsewhere").unwrap());
        let plan = plan_one(&chaining, &registration(None), &hub).unwrap();
        assert_eq!(plan.actions[0].change, Change::Unchanged);
        assert!(
            plan.actions[0].detail.contains("-> target"),
            "{}",
            plan.actions[0].detail
        );
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
