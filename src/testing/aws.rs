//! The in-memory AWS: FakeAws, the AWS side's ports (Eks*, Iam*, TokenMinter).

use std::cell::RefCell;

use crate::core::model::{
    AccessEntry, AccessPolicyAssociation, AccessScope, PodIdentityAssociation, RoleArn, SaRef,
};
use crate::error::Result;
use crate::ports::{
    CallerIdentity, EksRead, EksWrite, IamRead, IamRole, IamWrite, RolePolicy, TokenMinter,
};

use super::*;

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
    /// Writes that fail once, by the start of their log line (see [`Fault`]); also
    /// `describe cluster NAME`, a DescribeCluster that fails.
    pub(crate) faults: Faults,
    /// Names ListClusters gives whose DescribeCluster answers after this long (a paused
    /// clock's time).
    pub(crate) slow_describe: Vec<(String, std::time::Duration)>,
    /// Names ListClusters gives in every region that no longer exist when described.
    pub(crate) deleted: Vec<String>,
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
            .chain(self.deleted.iter().cloned())
            .collect())
    }

    async fn describe_cluster(&self, region: &str, name: &str) -> Result<Option<EksCluster>> {
        if let Some((_, wait)) = self.slow_describe.iter().find(|(n, _)| n == name) {
            tokio::time::sleep(*wait).await;
        }
        self.faults.check(&format!("describe cluster {name}"))?;
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
