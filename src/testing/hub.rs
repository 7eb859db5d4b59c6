//! The in-memory hub: FakeHub, the Kubernetes ports of the cluster Argo CD runs in (HubRead,
//! HubWrite); the target clusters' reads it also answers are in targets.rs.

use std::cell::RefCell;

use crate::core::model::{IRSA_ANNOTATION, ObservedServiceAccount, PodFacts, SaRef};
use crate::core::rbac::{ResourceRule, RulesReview};
use crate::core::secret::DesiredSecret;
use crate::error::Result;
use crate::ports::{Annotation, HubContext, HubRead, HubWrite, Workload, Write};

use super::*;

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
