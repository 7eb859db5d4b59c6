//! Test helpers shared by the unit tests: fixtures of the core's types and in-memory fakes of the
//! ports, so commands are tested without any server.

use std::collections::BTreeMap;

use crate::core::model::{ClusterArn, EksCluster, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::core::registration::EksRegistration;
use crate::core::secret::ObservedSecret;

pub(crate) const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";
pub(crate) const TARGET: &str = "arn:aws:iam::210987654321:role/argocd-deployer";
pub(crate) const CA: &str = "Q0E=";

pub(crate) fn arn(region: &str, name: &str) -> ClusterArn {
    ClusterArn::new("aws", region, "123456789012", name)
}

pub(crate) fn endpoint(name: &str, region: &str) -> String {
    format!(
        "https://{}.gr7.{region}.eks.amazonaws.com",
        name.to_uppercase()
    )
}

/// A Secret as `add` writes it.
pub(crate) fn ours(
    secret: &str,
    cluster: &str,
    region: &str,
    role: Option<&str>,
) -> ObservedSecret {
    let mut aws = serde_json::json!({"clusterName": cluster});
    if let Some(role) = role {
        aws["roleARN"] = role.into();
    }
    let config = serde_json::json!({
        "awsAuthConfig": aws,
        "tlsClientConfig": {"insecure": false, "caData": CA},
    });
    ObservedSecret {
        namespace: "argocd".into(),
        name: secret.into(),
        labels: BTreeMap::from([
            ("argocd.argoproj.io/secret-type".into(), "cluster".into()),
            (MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into()),
        ]),
        data: BTreeMap::from([
            ("name".into(), arn(region, cluster).to_string()),
            ("server".into(), endpoint(cluster, region)),
            ("config".into(), config.to_string()),
        ]),
        ..ObservedSecret::default()
    }
}

pub(crate) fn secret_with(name: &str, data: &[(&str, &str)]) -> ObservedSecret {
    ObservedSecret {
        namespace: "argocd".into(),
        name: name.into(),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..ObservedSecret::default()
    }
}

pub(crate) fn reg(secret: &ObservedSecret) -> EksRegistration {
    EksRegistration::from_secret(secret).unwrap()
}

pub(crate) fn described(name: &str, region: &str) -> EksCluster {
    EksCluster {
        arn: arn(region, name),
        endpoint: endpoint(name, region),
        ca_data: CA.into(),
        status: "ACTIVE".into(),
        version: None,
        oidc_issuer: None,
        authentication_mode: None,
        auto_mode: false,
        tags: std::collections::BTreeMap::new(),
    }
}

// ---- in-memory fakes of the ports ----

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::cli::args::Cli;
use crate::cli::settings::{Environment, Settings};
use crate::commands::Ports;
use crate::commands::accounts::Accounts;
use crate::core::model::{
    AccessEntry, AccessPolicyAssociation, AccessScope, GroupBinding, IRSA_ANNOTATION,
    ObservedServiceAccount, PodFacts, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::core::rbac::{ResourceRule, RulesReview};
use crate::core::secret::{DesiredSecret, OwnedFields};
use crate::error::{Error, Result};
use crate::ports::{
    Annotation, AwsAuth, CallerIdentity, EksRead, EksWrite, HubContext, HubRead, HubWrite, IamRead,
    IamRole, IamWrite, PickList, Prompt, Reply, RolePolicy, Targets, TokenMinter, TokenReview,
    Workload, Write,
};

/// The Secret as the hub has it after this tool applied `secret`: its fields, all owned.
pub(crate) fn written(secret: &DesiredSecret) -> ObservedSecret {
    ObservedSecret {
        namespace: secret.namespace.clone(),
        name: secret.name.clone(),
        labels: secret.labels.clone(),
        annotations: secret.annotations.clone(),
        data: secret.data.clone(),
        owned: OwnedFields {
            data: secret.data.keys().cloned().collect(),
            labels: secret.labels.keys().cloned().collect(),
            annotations: secret.annotations.keys().cloned().collect(),
        },
    }
}

/// Settings as the command line and a terminal (or none) make them.
pub(crate) fn settings(args: &[&str], terminal: bool) -> Settings {
    let cli = <Cli as clap::Parser>::try_parse_from(
        std::iter::once("kubectl-argocd_eks").chain(args.iter().copied()),
    )
    .unwrap();
    let environment = Environment {
        stdin_is_terminal: terminal,
        no_color_env: true,
    };
    Settings::from_cli(cli, environment).unwrap()
}

/// The hub in memory: Argo CD's namespace with its service accounts, Secrets, and a log of
/// every write (server-side dry runs are logged and change nothing).
#[derive(Default)]
pub(crate) struct FakeHub {
    pub(crate) context: HubContext,
    pub(crate) secrets: RefCell<Vec<ObservedSecret>>,
    /// By namespace.
    pub(crate) service_accounts: RefCell<BTreeMap<String, Vec<ObservedServiceAccount>>>,
    /// By namespace, then service account: the annotation keys this tool owns.
    pub(crate) owned: RefCell<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
    pub(crate) pods: Vec<PodFacts>,
    /// `verb resource` pairs the access review refuses.
    pub(crate) refused: Vec<String>,
    /// The rules review lists no rule for these `verb resource` pairs (though an access
    /// review may allow them) and says it is incomplete: a webhook authorizer's case.
    pub(crate) webhook_allows: Vec<String>,
    /// Access reviews and rules reviews asked.
    pub(crate) reviews: RefCell<Vec<String>>,
    pub(crate) aws_auth: Option<String>,
    /// What targets answer to a token; None: they reject it.
    pub(crate) token_user: Option<(String, Vec<String>)>,
    pub(crate) writes: RefCell<Vec<String>>,
    /// Writes that fail once, by the start of their log line (see [`Fault`]).
    pub(crate) faults: Faults,
    /// Argo CD's workloads that exist (`statefulsets/argocd-application-controller`), with when
    /// their pods were last rolled; a restart sets it to [`FakeHub::NOW`].
    pub(crate) workloads: RefCell<BTreeMap<String, i64>>,
}

impl FakeHub {
    /// The time a restart by the tool leaves on a workload: after any identity change.
    pub(crate) const NOW: i64 = 1 << 40;

    /// A hub with Argo CD's three service accounts in `namespace`, none annotated.
    pub(crate) fn with_argocd(namespace: &str) -> Self {
        let hub = FakeHub::default();
        hub.service_accounts.borrow_mut().insert(
            namespace.to_owned(),
            crate::core::model::ARGOCD_SERVICE_ACCOUNTS
                .iter()
                .map(|(name, _)| ObservedServiceAccount {
                    name: (*name).to_owned(),
                    irsa_role: None,
                    irsa_changed_at: None,
                    resource_version: None,
                })
                .collect(),
        );
        hub
    }

    pub(crate) fn annotate(&self, namespace: &str, role: &str, ours: bool) {
        for sa in self
            .service_accounts
            .borrow_mut()
            .entry(namespace.to_owned())
            .or_default()
        {
            sa.irsa_role = Some(role.to_owned());
            if ours {
                self.owned
                    .borrow_mut()
                    .entry(namespace.to_owned())
                    .or_default()
                    .insert(sa.name.clone(), vec![IRSA_ANNOTATION.to_owned()]);
            }
        }
    }

    /// Log `what`; Err when a fault was set for it (nothing is written then), except for
    /// someone else's same write first, which the caller makes and then fails.
    fn write(&self, write: Write, what: &str) -> Result<(bool, Option<Fault>)> {
        let fault = self.faults.check(what)?;
        Ok((self.log(write, what.to_owned()), fault))
    }

    fn log(&self, write: Write, what: String) -> bool {
        let real = write == Write::Real;
        self.writes.borrow_mut().push(if real {
            what
        } else {
            format!("(dry run) {what}")
        });
        real
    }
}

impl HubRead for FakeHub {
    fn context(&self) -> &HubContext {
        &self.context
    }

    async fn daemon_set_exists(&self, _namespace: &str, _name: &str) -> Result<bool> {
        Ok(false)
    }

    async fn workloads_restarted_at(
        &self,
        _namespace: &str,
        workloads: &[Workload],
    ) -> Result<Vec<(String, i64)>> {
        let known = self.workloads.borrow();
        Ok(workloads
            .iter()
            .filter_map(|w| {
                let name = format!("{}/{}", w.kind.resource(), w.name);
                known.get(&name).map(|at| (name, *at))
            })
            .collect())
    }

    async fn cluster_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>> {
        let secrets = self.secrets.borrow();
        Ok(secrets
            .iter()
            .filter(|s| s.namespace == namespace)
            .cloned()
            .collect())
    }

    async fn unregistered_secrets(&self, namespace: &str) -> Result<Vec<ObservedSecret>> {
        let secrets = self.secrets.borrow();
        Ok(secrets
            .iter()
            .filter(|s| s.namespace == namespace && s.managed_by_us())
            .filter(|s| !s.labels.contains_key(crate::core::model::SECRET_TYPE_LABEL))
            .cloned()
            .collect())
    }

    async fn cluster_secrets_in_all_namespaces(&self) -> Result<Vec<ObservedSecret>> {
        Ok(self.secrets.borrow().clone())
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<ObservedSecret>> {
        let secrets = self.secrets.borrow();
        Ok(secrets
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
            .cloned())
    }

    async fn service_accounts(&self, namespace: &str) -> Result<Vec<ObservedServiceAccount>> {
        Ok(self
            .service_accounts
            .borrow()
            .get(namespace)
            .cloned()
            .unwrap_or_default())
    }

    async fn owned_service_account_annotations(
        &self,
        namespace: &str,
    ) -> Result<BTreeMap<String, Vec<String>>> {
        Ok(self
            .owned
            .borrow()
            .get(namespace)
            .cloned()
            .unwrap_or_default())
    }

    async fn pods(&self, _namespace: &str) -> Result<Vec<PodFacts>> {
        Ok(self.pods.clone())
    }

    async fn namespaces_with_service_account(&self, name: &str) -> Result<Vec<String>> {
        let accounts = self.service_accounts.borrow();
        Ok(accounts
            .iter()
            .filter(|(_, sas)| sas.iter().any(|sa| sa.name == name))
            .map(|(namespace, _)| namespace.clone())
            .collect())
    }

    async fn can_i(&self, _ns: &str, verb: &str, _group: &str, resource: &str) -> Result<bool> {
        let pair = format!("{verb} {resource}");
        self.reviews
            .borrow_mut()
            .push(format!("access review {pair}"));
        Ok(!self.refused.contains(&pair))
    }

    /// Every verb on the resources `add` and `remove` write, but the refused pairs and those
    /// only a webhook allows.
    async fn rules_review(&self, namespace: &str) -> Result<RulesReview> {
        self.reviews
            .borrow_mut()
            .push(format!("rules review {namespace}"));
        let rules = ["get", "list", "create", "patch", "update", "delete"]
            .iter()
            .flat_map(|verb| {
                [
                    ("", "secrets"),
                    ("", "serviceaccounts"),
                    ("apps", "statefulsets"),
                    ("apps", "deployments"),
                ]
                .into_iter()
                .map(move |(group, resource)| (*verb, group, resource))
            })
            .filter(|(verb, _, resource)| {
                let pair = format!("{verb} {resource}");
                !self.refused.contains(&pair) && !self.webhook_allows.contains(&pair)
            })
            .map(|(verb, group, resource)| ResourceRule {
                verbs: vec![verb.to_owned()],
                api_groups: vec![group.to_owned()],
                resources: vec![resource.to_owned()],
                resource_names: Vec::new(),
            })
            .collect();
        Ok(RulesReview {
            rules,
            incomplete: !self.webhook_allows.is_empty(),
        })
    }
}

impl HubWrite for FakeHub {
    async fn apply_secret(&self, secret: &DesiredSecret, write: Write) -> Result<ObservedSecret> {
        let what = format!("apply Secret {}/{}", secret.namespace, secret.name);
        let (real, fault) = self.write(write, &what)?;
        if real {
            let mut secrets = self.secrets.borrow_mut();
            secrets.retain(|s| !(s.namespace == secret.namespace && s.name == secret.name));
            secrets.push(written(secret));
        }
        Faults::after(fault, &what).map(|()| written(secret))
    }

    async fn delete_secret(&self, namespace: &str, name: &str, write: Write) -> Result<bool> {
        let mut secrets = self.secrets.borrow_mut();
        let found = secrets
            .iter()
            .any(|s| s.namespace == namespace && s.name == name);
        let what = format!("delete Secret {namespace}/{name}");
        let (real, fault) = self.write(write, &what)?;
        Faults::after(fault, &what)?;
        if real {
            secrets.retain(|s| !(s.namespace == namespace && s.name == name));
        }
        Ok(found)
    }

    async fn unregister_secret(&self, namespace: &str, name: &str, write: Write) -> Result<bool> {
        let what = format!("unregister Secret {namespace}/{name}");
        let (real, fault) = self.write(write, &what)?;
        Faults::after(fault, &what)?;
        let mut secrets = self.secrets.borrow_mut();
        let found = secrets
            .iter_mut()
            .find(|s| s.namespace == namespace && s.name == name);
        let there = found.is_some();
        if let (true, Some(secret)) = (real, found) {
            secret.labels.remove(crate::core::model::SECRET_TYPE_LABEL);
        }
        Ok(there)
    }

    async fn annotate_service_account(
        &self,
        service_account: &SaRef,
        annotation: Annotation<'_>,
        _resource_version: Option<&str>,
        write: Write,
    ) -> Result<ObservedServiceAccount> {
        let Annotation {
            key,
            value,
            expected,
        } = annotation;
        let what = format!("annotate {service_account} {key}={value}");
        let now = self
            .service_accounts
            .borrow()
            .get(&service_account.namespace)
            .and_then(|sas| sas.iter().find(|sa| sa.name == service_account.name))
            .and_then(|sa| sa.irsa_role.clone());
        if now.as_deref() != expected {
            return Err(Faults::in_use(&what));
        }
        let (real, fault) = self.write(write, &what)?;
        if real {
            let mut accounts = self.service_accounts.borrow_mut();
            let sas = accounts
                .entry(service_account.namespace.clone())
                .or_default();
            let value = match fault {
                Some(Fault::TakenBy(role)) => role,
                _ => value,
            };
            if let Some(sa) = sas.iter_mut().find(|sa| sa.name == service_account.name) {
                sa.irsa_role = Some(value.to_owned());
            }
            self.owned
                .borrow_mut()
                .entry(service_account.namespace.clone())
                .or_default()
                .insert(service_account.name.clone(), vec![key.to_owned()]);
        }
        Faults::after(fault, &what)?;
        let stored = self
            .service_accounts
            .borrow()
            .get(&service_account.namespace)
            .and_then(|sas| {
                sas.iter()
                    .find(|sa| sa.name == service_account.name)
                    .cloned()
            });
        Ok(stored.filter(|_| real).unwrap_or(ObservedServiceAccount {
            name: service_account.name.clone(),
            irsa_role: Some(value.to_owned()),
            irsa_changed_at: None,
            resource_version: None,
        }))
    }

    async fn remove_service_account_annotation(
        &self,
        service_account: &SaRef,
        key: &str,
        write: Write,
    ) -> Result<()> {
        let what = format!("remove {service_account} {key}");
        let (real, fault) = self.write(write, &what)?;
        Faults::after(fault, &what)?;
        if real {
            let mut accounts = self.service_accounts.borrow_mut();
            let sas = accounts
                .entry(service_account.namespace.clone())
                .or_default();
            if let Some(sa) = sas.iter_mut().find(|sa| sa.name == service_account.name) {
                sa.irsa_role = None;
            }
            if let Some(owned) = self.owned.borrow_mut().get_mut(&service_account.namespace) {
                owned.remove(&service_account.name);
            }
        }
        Ok(())
    }

    async fn restart_workloads(
        &self,
        namespace: &str,
        workloads: &[Workload],
        write: Write,
    ) -> Result<Vec<String>> {
        let names: Vec<String> = workloads
            .iter()
            .map(|w| format!("{}/{}", w.kind.resource(), w.name))
            .collect();
        let what = format!("restart {namespace} {}", names.join(" "));
        let (real, fault) = self.write(write, &what)?;
        Faults::after(fault, &what)?;
        if real {
            for at in self.workloads.borrow_mut().values_mut() {
                *at = Self::NOW;
            }
        }
        Ok(names)
    }
}

impl Targets for FakeHub {
    async fn aws_auth(&self, _server: &str) -> Result<AwsAuth> {
        Ok(match &self.aws_auth {
            Some(text) => AwsAuth::MapRoles(text.clone()),
            None => AwsAuth::NoContext,
        })
    }

    async fn group_bindings(&self, _server: &str) -> Result<Option<Vec<GroupBinding>>> {
        Ok(None)
    }

    async fn review_token(&self, _server: &str, _ca: &str, _token: &str) -> Result<TokenReview> {
        Ok(match &self.token_user {
            Some((username, groups)) => TokenReview::Authenticated {
                username: username.clone(),
                groups: groups.clone(),
            },
            None => TokenReview::Rejected,
        })
    }
}

/// One AWS account in memory: its EKS clusters, associations, access entries, IAM roles, and
/// a log of every write.
#[derive(Default)]
pub(crate) struct FakeAws {
    pub(crate) account: String,
    pub(crate) clusters: Vec<EksCluster>,
    /// (cluster ARN, add-on name).
    pub(crate) addons: Vec<(String, String)>,
    pub(crate) associations: RefCell<Vec<PodIdentityAssociation>>,
    /// (cluster ARN, principal ARN) -> (policies, tags).
    pub(crate) entries: RefCell<BTreeMap<(String, String), FakeEntry>>,
    /// By name: (ARN, trust policy, inline policies by name).
    pub(crate) roles: RefCell<BTreeMap<String, FakeRole>>,
    pub(crate) oidc_providers: RefCell<Vec<String>>,
    pub(crate) writes: RefCell<Vec<String>>,
    /// Writes that fail once, by the start of their log line (see [`Fault`]).
    pub(crate) faults: Faults,
}

/// How a faulty write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// As a server error (exit 1).
    Fail,
    /// As already there: EKS's ResourceInUseException, Kubernetes' 409, after "someone else"
    /// made the very same write just before (the creates and applies; other writes only fail).
    InUse,
    /// As [`Fault::InUse`], but someone else made it with this role (associations, annotations).
    TakenBy(&'static str),
    /// As a refusal (AccessDenied, 403).
    Denied,
}

/// Faults of a fake's writes: each fails the next write whose log line starts with its key.
#[derive(Default)]
pub(crate) struct Faults(RefCell<Vec<(String, Fault)>>);

impl Faults {
    pub(crate) fn set(&self, write: &str, fault: Fault) {
        self.0.borrow_mut().push((write.to_owned(), fault));
    }

    /// The fault set for write `what`, taken (it fails once).
    fn take(&self, what: &str) -> Option<Fault> {
        let mut faults = self.0.borrow_mut();
        let index = faults.iter().position(|(key, _)| what.starts_with(key))?;
        Some(faults.remove(index).1)
    }

    /// Err for a write that fails as a server error or a refusal; Ok(Some) for one someone
    /// else made first (the caller makes it so, then returns [`Faults::in_use`]).
    fn check(&self, what: &str) -> Result<Option<Fault>> {
        match self.take(what) {
            None => Ok(None),
            Some(Fault::Fail) => Err(Error::Aws {
                operation: what.to_owned(),
                message: "InternalFailure: injected by the test".into(),
                fix: "try again".into(),
                source: None,
            }),
            Some(Fault::Denied) => Err(Error::denied(
                format!("{what} (injected by the test)"),
                "ask",
            )),
            Some(fault) => Ok(Some(fault)),
        }
    }

    /// The error of a write someone else made first.
    fn in_use(what: &str) -> Error {
        Error::Conflict {
            what: format!("{what}: ResourceInUseException (injected by the test)"),
            fix: "run again".into(),
        }
    }

    /// After the write: Err when it was someone else's first.
    fn after(fault: Option<Fault>, what: &str) -> Result<()> {
        match fault {
            None => Ok(()),
            Some(_) => Err(Self::in_use(what)),
        }
    }
}

#[derive(Default, Clone)]
pub(crate) struct FakeEntry {
    pub(crate) policies: Vec<AccessPolicyAssociation>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Default, Clone)]
pub(crate) struct FakeRole {
    pub(crate) arn: String,
    pub(crate) trust: String,
    pub(crate) inline: BTreeMap<String, String>,
}

impl FakeAws {
    pub(crate) fn in_account(account: &str, clusters: Vec<EksCluster>) -> Self {
        FakeAws {
            account: account.to_owned(),
            clusters,
            ..FakeAws::default()
        }
    }

    /// Log `what`; Err when a fault was set for it (nothing is written then), except for
    /// someone else's same write first, which the caller makes and then fails.
    fn log(&self, what: String) -> Result<Option<Fault>> {
        let fault = self.faults.check(&what)?;
        self.writes.borrow_mut().push(what);
        Ok(fault)
    }
}

impl EksRead for FakeAws {
    async fn list_clusters(&self, region: &str) -> Result<Vec<String>> {
        Ok(self
            .clusters
            .iter()
            .filter(|c| c.arn.region == region)
            .map(|c| c.arn.name.clone())
            .collect())
    }

    async fn describe_cluster(&self, region: &str, name: &str) -> Result<Option<EksCluster>> {
        Ok(self
            .clusters
            .iter()
            .find(|c| c.arn.region == region && c.arn.name == name)
            .cloned())
    }

    async fn has_addon(&self, cluster: &ClusterArn, addon: &str) -> Result<bool> {
        Ok(self
            .addons
            .iter()
            .any(|(c, a)| *c == cluster.to_string() && a == addon))
    }

    async fn pod_identity_associations(
        &self,
        _cluster: &ClusterArn,
        namespace: &str,
    ) -> Result<Vec<PodIdentityAssociation>> {
        let associations = self.associations.borrow();
        Ok(associations
            .iter()
            .filter(|a| a.service_account.namespace == namespace)
            .cloned()
            .collect())
    }

    async fn access_entry(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<AccessEntry>> {
        let key = (cluster.to_string(), principal_arn.to_owned());
        Ok(self.entries.borrow().get(&key).map(|e| AccessEntry {
            policies: e.policies.clone(),
            kubernetes_groups: Vec::new(),
        }))
    }

    async fn access_entry_tags(
        &self,
        cluster: &ClusterArn,
        principal_arn: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let key = (cluster.to_string(), principal_arn.to_owned());
        Ok(self.entries.borrow().get(&key).map(|e| e.tags.clone()))
    }
}

impl EksWrite for FakeAws {
    async fn create_pod_identity_association(
        &self,
        cluster: &ClusterArn,
        service_account: &SaRef,
        role: &RoleArn,
        target_role: Option<&RoleArn>,
    ) -> Result<()> {
        let what = format!("associate {service_account} {role} on {}", cluster.name);
        let fault = self.log(what.clone())?;
        let role = match fault {
            Some(Fault::TakenBy(other)) => other.to_owned(),
            _ => role.to_string(),
        };
        let mut associations = self.associations.borrow_mut();
        let id = format!("a-{}", associations.len());
        associations.push(PodIdentityAssociation {
            id,
            service_account: service_account.clone(),
            role_arn: role,
            managed_by_us: true,
            // When "EKS" made it: before any restart the fake hub makes (FakeHub::NOW).
            changed_at: Some(100),
            target_role_arn: target_role.map(ToString::to_string),
            disable_session_tags: false,
            external_id: target_role.map(|_| "external-id".to_owned()),
        });
        Faults::after(fault, &what)
    }

    async fn update_pod_identity_association(
        &self,
        _cluster: &ClusterArn,
        association_id: &str,
        role: &RoleArn,
        target_role: Option<&RoleArn>,
    ) -> Result<()> {
        self.log(format!("update association {association_id} {role}"))?;
        for a in self.associations.borrow_mut().iter_mut() {
            if a.id == association_id {
                a.role_arn = role.to_string();
                a.target_role_arn = target_role.map(ToString::to_string);
            }
        }
        Ok(())
    }

    async fn delete_pod_identity_association(
        &self,
        _cluster: &ClusterArn,
        association_id: &str,
    ) -> Result<bool> {
        self.log(format!("delete association {association_id}"))?;
        let mut associations = self.associations.borrow_mut();
        let before = associations.len();
        associations.retain(|a| a.id != association_id);
        Ok(associations.len() < before)
    }

    async fn create_access_entry(&self, cluster: &ClusterArn, principal: &RoleArn) -> Result<()> {
        let what = format!("create access entry {principal} on {}", cluster.name);
        let fault = self.log(what.clone())?;
        let entry = FakeEntry {
            policies: Vec::new(),
            tags: BTreeMap::from([(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())]),
        };
        self.entries
            .borrow_mut()
            .insert((cluster.to_string(), principal.to_string()), entry);
        Faults::after(fault, &what)
    }

    async fn associate_access_policy(
        &self,
        cluster: &ClusterArn,
        principal: &RoleArn,
        policy_arn: &str,
        scope: &AccessScope,
    ) -> Result<()> {
        self.log(format!(
            "associate {policy_arn} for {principal} on {}",
            cluster.name
        ))?;
        let mut entries = self.entries.borrow_mut();
        let entry = entries
            .entry((cluster.to_string(), principal.to_string()))
            .or_default();
        entry.policies.retain(|p| p.policy_arn != policy_arn);
        entry.policies.push(AccessPolicyAssociation {
            policy_arn: policy_arn.to_owned(),
            scope: scope.clone(),
        });
        Ok(())
    }

    async fn delete_access_entry(&self, cluster: &ClusterArn, principal_arn: &str) -> Result<bool> {
        self.log(format!(
            "delete access entry {principal_arn} on {}",
            cluster.name
        ))?;
        Ok(self
            .entries
            .borrow_mut()
            .remove(&(cluster.to_string(), principal_arn.to_owned()))
            .is_some())
    }
}

impl IamRead for FakeAws {
    async fn caller(&self) -> Result<CallerIdentity> {
        Ok(CallerIdentity {
            account: self.account.clone(),
            arn: format!("arn:aws:iam::{}:user/admin", self.account),
        })
    }

    async fn role(&self, name: &str) -> Result<Option<IamRole>> {
        Ok(self.roles.borrow().get(name).map(|r| IamRole {
            arn: r.arn.clone(),
            trust_policy: r.trust.clone(),
        }))
    }

    async fn list_roles(&self) -> Result<Vec<IamRole>> {
        Ok(self
            .roles
            .borrow()
            .values()
            .map(|r| IamRole {
                arn: r.arn.clone(),
                trust_policy: r.trust.clone(),
            })
            .collect())
    }

    async fn role_policies(&self, name: &str) -> Result<Vec<RolePolicy>> {
        Ok(self
            .roles
            .borrow()
            .get(name)
            .map(|r| {
                r.inline
                    .iter()
                    .map(|(name, document)| RolePolicy {
                        name: name.clone(),
                        document: document.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn oidc_providers(&self) -> Result<Vec<String>> {
        Ok(self.oidc_providers.borrow().clone())
    }
}

impl IamWrite for FakeAws {
    async fn create_role(&self, name: &str, trust_policy: &str, _description: &str) -> Result<()> {
        self.log(format!("create role {name}"))?;
        let role = FakeRole {
            arn: format!("arn:aws:iam::{}:role/{name}", self.account),
            trust: trust_policy.to_owned(),
            inline: BTreeMap::new(),
        };
        self.roles.borrow_mut().insert(name.to_owned(), role);
        Ok(())
    }

    async fn update_trust_policy(&self, name: &str, trust_policy: &str) -> Result<()> {
        self.log(format!("update trust of {name}"))?;
        if let Some(role) = self.roles.borrow_mut().get_mut(name) {
            role.trust = trust_policy.to_owned();
        }
        Ok(())
    }

    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<()> {
        self.log(format!("put policy {policy_name} on {role}"))?;
        if let Some(role) = self.roles.borrow_mut().get_mut(role) {
            role.inline
                .insert(policy_name.to_owned(), document.to_owned());
        }
        Ok(())
    }

    async fn create_oidc_provider(&self, issuer_url: &str) -> Result<String> {
        self.log(format!("create OIDC provider {issuer_url}"))?;
        let host = issuer_url.trim_start_matches("https://");
        let arn = format!("arn:aws:iam::{}:oidc-provider/{host}", self.account);
        self.oidc_providers.borrow_mut().push(arn.clone());
        Ok(arn)
    }
}

impl TokenMinter for FakeAws {
    async fn eks_token(
        &self,
        chain: &[RoleArn],
        cluster_name: &str,
        _region: &str,
    ) -> Result<String> {
        let chain: Vec<String> = chain.iter().map(ToString::to_string).collect();
        Ok(format!(
            "token for {cluster_name} as {}",
            chain.join(" then ")
        ))
    }
}

/// One scripted answer of the user.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Yes,
    No,
    Pick(Vec<usize>),
    One(usize),
    Text(&'static str),
    /// Enter at the default (of a select or a text question).
    Default,
    /// Esc: back one question.
    Back,
}

/// The user, answering from a script; with no answer left it refuses as `NoPrompt` does.
#[derive(Default)]
pub(crate) struct FakePrompt {
    answers: RefCell<VecDeque<Answer>>,
    /// The questions asked, in order.
    pub(crate) asked: RefCell<Vec<String>>,
    /// The items of each select and multi-select shown, in order.
    pub(crate) shown: RefCell<Vec<Vec<String>>>,
}

impl FakePrompt {
    pub(crate) fn answering(answers: &[Answer]) -> Self {
        FakePrompt {
            answers: RefCell::new(answers.iter().cloned().collect()),
            asked: RefCell::default(),
            shown: RefCell::default(),
        }
    }

    fn next(&self, question: &str, flag: &str) -> Result<Answer> {
        self.asked.borrow_mut().push(question.to_owned());
        self.answers
            .borrow_mut()
            .pop_front()
            .ok_or_else(|| Error::usage(format!("no answer scripted; pass {flag}")))
    }
}

impl Prompt for FakePrompt {
    fn confirm(&self, question: &str) -> Result<bool> {
        match self.next(question, "--yes")? {
            Answer::Yes => Ok(true),
            Answer::No => Ok(false),
            other => panic!("{question}: a yes/no question got {other:?}"),
        }
    }

    fn pick_many(&self, question: &str, flag: &str, list: &PickList) -> Result<Reply<Vec<usize>>> {
        self.shown.borrow_mut().push(list.rows.clone());
        match self.next(question, flag)? {
            Answer::Pick(picked) => Ok(Reply::Answer(picked)),
            Answer::Back => Ok(Reply::Back),
            other => panic!("{question}: a multi-select got {other:?}"),
        }
    }

    fn pick_one(
        &self,
        question: &str,
        flag: &str,
        items: &[String],
        default: usize,
    ) -> Result<Reply<usize>> {
        self.shown.borrow_mut().push(items.to_vec());
        match self.next(question, flag)? {
            Answer::One(picked) => Ok(Reply::Answer(picked)),
            Answer::Default => Ok(Reply::Answer(default)),
            Answer::Back => Ok(Reply::Back),
            other => panic!("{question}: a select got {other:?}"),
        }
    }

    fn text(
        &self,
        question: &str,
        flag: &str,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<Reply<String>> {
        match self.next(question, flag)? {
            Answer::Text(text) => {
                validate(text).map_err(Error::usage)?;
                Ok(Reply::Answer(text.to_owned()))
            }
            Answer::Default => Ok(Reply::Answer(default.unwrap_or_default().to_owned())),
            Answer::Back => Ok(Reply::Back),
            other => panic!("{question}: a text question got {other:?}"),
        }
    }
}

/// Run the tool's command line `args` against the fakes, as `run` does after building the
/// real adapters: the result and what it printed. `terminal`: stdin is a terminal.
pub(crate) async fn run_tool(
    hub: &FakeHub,
    accounts: &Accounts<FakeAws>,
    prompt: &FakePrompt,
    args: &[&str],
    terminal: bool,
) -> (Result<()>, String) {
    let settings = settings(args, terminal);
    let mut out = Vec::new();
    let result = crate::dispatch(&settings, ports(hub, accounts, prompt), None, &mut out).await;
    (result, String::from_utf8(out).unwrap_or_default())
}

/// The ports of one test: a hub, the caller's own account (and assumed ones), a user.
pub(crate) fn ports<'a>(
    hub: &'a FakeHub,
    accounts: &'a Accounts<FakeAws>,
    prompt: &'a FakePrompt,
) -> Ports<'a, FakeHub, FakeAws, FakePrompt> {
    Ports {
        hub,
        accounts,
        prompt,
    }
}

/// A described EKS cluster in `account` whose API takes access entries.
pub(crate) fn eks_cluster(account: &str, region: &str, name: &str) -> EksCluster {
    EksCluster {
        arn: ClusterArn::new("aws", region, account, name),
        endpoint: endpoint(name, region),
        ca_data: CA.into(),
        status: "ACTIVE".into(),
        version: Some("1.35".into()),
        oidc_issuer: None,
        authentication_mode: Some(crate::core::model::AuthenticationMode::ApiAndConfigMap),
        auto_mode: false,
        tags: std::collections::BTreeMap::new(),
    }
}
