//! Registered EKS clusters as Argo CD's cluster Secrets describe them (for `list` and
//! `remove`), their health against DescribeCluster, and the removal plan: which Secrets,
//! identities and access entries go, and why the others stay. Pure: no I/O.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::model::{ARGOCD_SERVICE_ACCOUNTS, ClusterArn, EksCluster, MANAGED_BY_LABEL, SaRef};
use super::model::{IRSA_ANNOTATION, MANAGED_BY_VALUE, PodIdentityAssociation};
use super::secret::ObservedSecret;

/// How Argo CD reaches a registered EKS cluster, as its Secret says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `config.awsAuthConfig`: Argo CD's pods get a token with their own AWS identity.
    AwsAuth,
    /// AWS's managed Argo CD (the EKS capability): `server` is the cluster ARN, no config.
    Capability,
    /// An `*.eks.amazonaws.com` server with some other way in (token, exec provider).
    Endpoint,
}

/// One Argo CD cluster Secret that points at EKS, whoever made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksRegistration {
    pub namespace: String,
    /// The Secret's name.
    pub secret: String,
    /// Argo CD's name for the cluster (`name` in the Secret).
    pub display_name: Option<String>,
    pub server: String,
    pub format: Format,
    /// The EKS cluster's name: `awsAuthConfig.clusterName`, else from the ARN.
    pub cluster_name: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    /// `awsAuthConfig.roleARN`; None is direct mode (the management role itself).
    pub role_arn: Option<String>,
    /// `tlsClientConfig.caData`.
    pub ca_data: Option<String>,
    /// The Secret's `app.kubernetes.io/managed-by` label.
    pub managed_by: Option<String>,
}

/// The region in an EKS endpoint host, `<id>.<zone>.<region>.eks.amazonaws.com[.cn]`.
pub fn eks_host_region(server: &str) -> Option<String> {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = rest.split(['/', ':']).next()?.to_ascii_lowercase();
    let before = host
        .strip_suffix(".eks.amazonaws.com")
        .or_else(|| host.strip_suffix(".eks.amazonaws.com.cn"))?;
    let region = before.rsplit('.').next()?;
    (region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    .then(|| region.to_owned())
}

impl EksRegistration {
    /// Read a cluster Secret; None when it does not point at EKS.
    pub fn from_secret(secret: &ObservedSecret) -> Option<Self> {
        let server = secret.server()?.to_owned();
        let config: Option<Value> = secret
            .data
            .get("config")
            .and_then(|text| serde_json::from_str(text).ok());
        let aws = config
            .as_ref()
            .and_then(|c| c.get("awsAuthConfig"))
            .filter(|v| v.is_object());
        let text = |value: Option<&Value>, key: &str| {
            value
                .and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let server_arn = ClusterArn::parse(&server).ok();
        let display_name = secret.data.get("name").cloned();
        let name_arn = display_name
            .as_deref()
            .and_then(|name| ClusterArn::parse(name).ok());
        let host_region = eks_host_region(&server);
        let format = if server_arn.is_some() {
            Format::Capability
        } else if aws.is_some() {
            Format::AwsAuth
        } else if host_region.is_some() {
            Format::Endpoint
        } else {
            return None;
        };
        let cluster_name = text(aws, "clusterName");
        // The ARN in `server` or `name` tells region and account, when it is this cluster's.
        let arn = server_arn
            .or(name_arn)
            .filter(|arn| cluster_name.as_ref().is_none_or(|name| *name == arn.name));
        Some(EksRegistration {
            namespace: secret.namespace.clone(),
            secret: secret.name.clone(),
            display_name,
            format,
            cluster_name: cluster_name.or_else(|| arn.as_ref().map(|a| a.name.clone())),
            region: arn.as_ref().map(|a| a.region.clone()).or(host_region),
            account: arn.as_ref().map(|a| a.account.clone()),
            role_arn: text(aws, "roleARN"),
            ca_data: text(
                config.as_ref().and_then(|c| c.get("tlsClientConfig")),
                "caData",
            ),
            managed_by: secret.labels.get(MANAGED_BY_LABEL).cloned(),
            server,
        })
    }

    pub fn managed_by_us(&self) -> bool {
        self.managed_by.as_deref() == Some(MANAGED_BY_VALUE)
    }

    /// Whether Argo CD's own pods reach this cluster with their AWS identity (the capability
    /// uses its own role instead).
    pub fn uses_argocd_identity(&self) -> bool {
        self.format != Format::Capability
    }

    /// The role the target must let in: roleARN, else the management role (direct mode).
    pub fn principal(&self, management_role: Option<&str>) -> Option<String> {
        match self.format {
            Format::AwsAuth => self
                .role_arn
                .clone()
                .or_else(|| management_role.map(str::to_owned)),
            Format::Capability | Format::Endpoint => None,
        }
    }

    /// Whether this registration points at `cluster`: by name, region and account when the
    /// Secret tells them, else by its `server`.
    pub fn reaches(&self, cluster: &ClusterArn, server: &str) -> bool {
        match (&self.cluster_name, &self.region) {
            (Some(name), Some(region)) => {
                *name == cluster.name
                    && *region == cluster.region
                    && self
                        .account
                        .as_ref()
                        .is_none_or(|account| *account == cluster.account)
            }
            _ => self.server == server.trim_end_matches('/'),
        }
    }

    /// `cluster (region)` for messages.
    pub fn describe(&self) -> String {
        let name = self.cluster_name.as_deref().unwrap_or(&self.server);
        match &self.region {
            Some(region) => format!("{name} ({region})"),
            None => name.to_owned(),
        }
    }

    fn matches_name(&self, text: &str) -> bool {
        self.cluster_name.as_deref() == Some(text) || self.display_name.as_deref() == Some(text)
    }

    fn matches_arn(&self, arn: &ClusterArn) -> bool {
        self.display_name.as_deref() == Some(arn.to_string().as_str())
            || (self.cluster_name.as_deref() == Some(arn.name.as_str())
                && self.region.as_deref() == Some(arn.region.as_str())
                && self.account.as_ref().is_none_or(|a| *a == arn.account))
    }
}

/// Every EKS registration among `secrets`, by Secret name.
pub fn eks_registrations(secrets: &[ObservedSecret]) -> Vec<EksRegistration> {
    let mut found: Vec<EksRegistration> = secrets
        .iter()
        .filter_map(EksRegistration::from_secret)
        .collect();
    found.sort_by(|a, b| a.secret.cmp(&b.secret));
    found
}

/// Why a CLUSTER argument picks no single registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(
        "no registered EKS cluster in namespace {namespace} is called {wanted}{}",
        candidates_text(candidates, "; registered: ")
    )]
    None {
        wanted: String,
        namespace: String,
        candidates: Vec<String>,
    },
    #[error(
        "{wanted} matches several registrations ({}); name one by its Secret name, or by its cluster ARN if they are different clusters",
        candidates.join(", ")
    )]
    Ambiguous {
        wanted: String,
        candidates: Vec<String>,
    },
}

fn candidates_text(candidates: &[String], prefix: &str) -> String {
    if candidates.is_empty() {
        " (none are registered)".to_owned()
    } else {
        format!("{prefix}{}", candidates.join(", "))
    }
}

fn candidate(registration: &EksRegistration) -> String {
    format!("{} = {}", registration.secret, registration.describe())
}

/// The one registration `wanted` names: the Secret of that name, else the one registration whose
/// cluster name, Argo CD name or cluster ARN it is.
pub fn select<'a>(
    registrations: &'a [EksRegistration],
    wanted: &str,
    namespace: &str,
) -> Result<&'a EksRegistration, SelectError> {
    if let Some(exact) = registrations.iter().find(|r| r.secret == wanted) {
        return Ok(exact);
    }
    let matches: Vec<&EksRegistration> = match ClusterArn::parse(wanted) {
        Ok(arn) => registrations
            .iter()
            .filter(|r| r.matches_arn(&arn))
            .collect(),
        Err(_) => registrations
            .iter()
            .filter(|r| r.matches_name(wanted))
            .collect(),
    };
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(SelectError::None {
            wanted: wanted.to_owned(),
            namespace: namespace.to_owned(),
            candidates: registrations.iter().map(candidate).collect(),
        }),
        several => Err(SelectError::Ambiguous {
            wanted: wanted.to_owned(),
            candidates: several.iter().map(|r| candidate(r)).collect(),
        }),
    }
}

/// The one-word health `list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// DescribeCluster has the Secret's endpoint and CA.
    Ok,
    /// The cluster's CA is not the Secret's caData any more.
    CaRotated,
    /// The cluster's endpoint is not the Secret's server any more.
    Moved,
    /// There is no such cluster.
    Missing,
    /// The tool could not tell (no region or name, no access to the account, an error).
    Unknown,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Ok => "ok",
            Health::CaRotated => "ca-rotated",
            Health::Moved => "moved",
            Health::Missing => "missing",
            Health::Unknown => "unknown",
        })
    }
}

/// What DescribeCluster said about a registration's cluster: `described` is None when the
/// call failed, Some(None) when there is no such cluster. `client_account` is the account the
/// call was made in, when known.
pub fn health(
    registration: &EksRegistration,
    client_account: Option<&str>,
    described: Option<Option<&EksCluster>>,
) -> Health {
    let account = registration.account.as_deref();
    match described {
        None => Health::Unknown,
        // "Not found" means gone only when it was asked in the cluster's own account.
        Some(None) if account.is_some() && account == client_account => Health::Missing,
        Some(None) => Health::Unknown,
        Some(Some(cluster)) if account.is_some_and(|a| a != cluster.arn.account) => Health::Unknown,
        Some(Some(_)) if registration.format == Format::Capability => Health::Ok,
        Some(Some(cluster)) if cluster.endpoint.trim_end_matches('/') != registration.server => {
            Health::Moved
        }
        Some(Some(cluster))
            if registration
                .ca_data
                .as_ref()
                .is_some_and(|ca| *ca != cluster.ca_data) =>
        {
            Health::CaRotated
        }
        Some(Some(_)) => Health::Ok,
    }
}

/// One of Argo CD's service accounts and its IRSA annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountIdentity {
    pub name: String,
    pub irsa_role: Option<String>,
    /// The annotation is owned by this tool's field manager (server-side apply).
    pub annotation_ours: bool,
}

/// A pod identity association for one of Argo CD's service accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAssociation {
    pub association: PodIdentityAssociation,
    /// It carries the tag `app.kubernetes.io/managed-by=kubectl-argocd-eks`.
    pub ours: bool,
}

/// The management role Argo CD's pods run as: the IRSA annotation (AWS SDKs prefer it when both
/// are set), else the pod identity association.
pub fn management_role(
    service_accounts: &[ServiceAccountIdentity],
    associations: &[ObservedAssociation],
) -> Option<String> {
    service_accounts
        .iter()
        .find_map(|sa| sa.irsa_role.clone())
        .or_else(|| {
            associations
                .iter()
                .map(|a| a.association.role_arn.clone())
                .next()
        })
}

/// What the target says about the access entry of the principal that reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    /// The entry exists; `ours` when it carries this tool's managed-by tag.
    Present {
        ours: bool,
    },
    Absent,
    /// The cluster reads only the aws-auth ConfigMap.
    ConfigMap,
}

/// A removed registration's target, as observed: the cluster and its access entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedTarget {
    Found {
        cluster: ClusterArn,
        endpoint: String,
        principal: String,
        entry: EntryState,
    },
    /// Nothing to look at or it could not be looked at; the text says why.
    NotChecked(String),
}

/// Everything `remove` read before planning.
#[derive(Debug, Clone, Default)]
pub struct ObservedRemoval {
    pub namespace: String,
    /// Every EKS registration in the namespace.
    pub registrations: Vec<EksRegistration>,
    /// Argo CD's service accounts that exist.
    pub service_accounts: Vec<ServiceAccountIdentity>,
    /// The hub's EKS cluster, when known; pod identity associations live there.
    pub hub_cluster: Option<ClusterArn>,
    /// Associations for Argo CD's service accounts.
    pub associations: Vec<ObservedAssociation>,
    /// Why associations were not looked at, if they were not.
    pub associations_unchecked: Option<String>,
    /// Per removed Secret (by name), its target.
    pub targets: Vec<(String, ObservedTarget)>,
    /// EKS registrations in the hub's other namespaces (other Argo CD instances may share a
    /// target's access entry).
    pub elsewhere: Vec<EksRegistration>,
    /// Why other namespaces were not looked at, if they were not.
    pub elsewhere_unchecked: Option<String>,
    /// The management role of other namespaces' Argo CD (None: it has no AWS identity), where
    /// it was read, for their direct-mode registrations; a direct-mode registration in a
    /// namespace not read counts as a user of the entry.
    pub elsewhere_management: std::collections::BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Removal {
    Delete,
    Keep,
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Removal::Delete => "delete",
            Removal::Keep => "keep",
        })
    }
}

/// One object `remove` deletes, or keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RemovalStep {
    DeleteSecret {
        namespace: String,
        name: String,
    },
    /// Server-side apply of the service account without the IRSA annotation.
    RemoveServiceAccountAnnotation {
        service_account: SaRef,
        role_arn: String,
    },
    DeletePodIdentityAssociation {
        hub_cluster: ClusterArn,
        association_id: String,
        service_account: SaRef,
        role_arn: String,
    },
    DeleteAccessEntry {
        cluster: ClusterArn,
        principal_arn: String,
    },
}

impl RemovalStep {
    pub fn subject(&self) -> String {
        match self {
            RemovalStep::DeleteSecret { namespace, name } => format!("Secret {namespace}/{name}"),
            RemovalStep::RemoveServiceAccountAnnotation {
                service_account, ..
            } => format!("ServiceAccount {service_account} annotation {IRSA_ANNOTATION}"),
            RemovalStep::DeletePodIdentityAssociation {
                hub_cluster,
                service_account,
                ..
            } => format!(
                "PodIdentityAssociation {service_account} on EKS cluster {}",
                hub_cluster.name
            ),
            RemovalStep::DeleteAccessEntry {
                cluster,
                principal_arn,
            } => format!(
                "AccessEntry {principal_arn} on EKS cluster {}",
                cluster.name
            ),
        }
    }

    /// Whether Argo CD's pods lose an identity with this step.
    pub fn changes_identity(&self) -> bool {
        matches!(
            self,
            RemovalStep::RemoveServiceAccountAnnotation { .. }
                | RemovalStep::DeletePodIdentityAssociation { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovalAction {
    pub change: Removal,
    pub step: RemovalStep,
    /// Why it goes, or why it stays.
    pub detail: String,
}

/// Everything `remove` would do, in order: the Secrets first (Argo CD stops using the
/// clusters), then target access, then Argo CD's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovalPlan {
    pub namespace: String,
    /// The removed registrations' Secret names.
    pub secrets: Vec<String>,
    pub actions: Vec<RemovalAction>,
    pub notes: Vec<String>,
}

impl RemovalPlan {
    pub fn deletes(&self) -> impl Iterator<Item = &RemovalAction> {
        self.actions.iter().filter(|a| a.change == Removal::Delete)
    }

    pub fn is_noop(&self) -> bool {
        self.deletes().next().is_none()
    }
}

const TAG_MISSING: &str =
    "not created by kubectl-argocd-eks (no app.kubernetes.io/managed-by=kubectl-argocd-eks tag)";

fn still_needed(by: &[&EksRegistration]) -> String {
    const SHOWN: usize = 3;
    let mut names: Vec<String> = by
        .iter()
        .take(SHOWN)
        .map(|r| format!("{}/{}", r.namespace, r.secret))
        .collect();
    if by.len() > SHOWN {
        names.push(format!("{} more", by.len() - SHOWN));
    }
    let noun = if by.len() == 1 { "Secret" } else { "Secrets" };
    format!("still needed by {noun} {}", names.join(", "))
}

/// Plan the removal of the registrations whose Secrets are `removing`. Pure: no I/O.
pub fn plan_removal(observed: &ObservedRemoval, removing: &[String]) -> RemovalPlan {
    let namespace = &observed.namespace;
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    let remaining: Vec<&EksRegistration> = observed
        .registrations
        .iter()
        .filter(|r| !removing.contains(&r.secret))
        .collect();
    let management = management_role(&observed.service_accounts, &observed.associations);

    for name in removing {
        let registration = observed.registrations.iter().find(|r| r.secret == *name);
        let detail = match registration {
            Some(r) if r.managed_by_us() => r.describe(),
            Some(r) => format!(
                "{}; made by {}, not by kubectl-argocd-eks",
                r.describe(),
                r.managed_by.as_deref().unwrap_or("someone else")
            ),
            None => "registration".to_owned(),
        };
        actions.push(RemovalAction {
            change: Removal::Delete,
            step: RemovalStep::DeleteSecret {
                namespace: namespace.clone(),
                name: name.clone(),
            },
            detail,
        });
    }

    // Target access: one decision per (cluster, principal).
    let mut seen: Vec<(ClusterArn, String)> = Vec::new();
    for (secret, target) in &observed.targets {
        let (cluster, endpoint, principal, entry) = match target {
            ObservedTarget::NotChecked(why) => {
                notes.push(format!("{secret}: {why}"));
                continue;
            }
            ObservedTarget::Found {
                cluster,
                endpoint,
                principal,
                entry,
            } => (cluster, endpoint, principal, entry),
        };
        let key = (cluster.clone(), principal.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let mut needed_by: Vec<&EksRegistration> = remaining
            .iter()
            .copied()
            .filter(|r| {
                r.reaches(cluster, endpoint)
                    && r.principal(management.as_deref()).as_deref() == Some(principal.as_str())
            })
            .collect();
        // Another namespace's Argo CD: its roleARN, or in direct mode its own management role;
        // when that could not be read, the registration counts as a user.
        needed_by.extend(observed.elsewhere.iter().filter(|r| {
            let uses_principal =
                match (&r.role_arn, observed.elsewhere_management.get(&r.namespace)) {
                    (Some(role), _) | (None, Some(Some(role))) => role == principal,
                    (None, Some(None)) => false,
                    (None, None) => true,
                };
            r.format == Format::AwsAuth && r.reaches(cluster, endpoint) && uses_principal
        }));
        let step = RemovalStep::DeleteAccessEntry {
            cluster: cluster.clone(),
            principal_arn: principal.clone(),
        };
        let keep = |detail: String| RemovalAction {
            change: Removal::Keep,
            step: step.clone(),
            detail,
        };
        match entry {
            EntryState::Absent => {}
            EntryState::ConfigMap if needed_by.is_empty() => notes.push(format!(
                "{} reads only the aws-auth ConfigMap: if nothing else uses {principal} there, remove its mapRoles entry by hand (kubectl -n kube-system edit configmap aws-auth on that cluster)",
                cluster
            )),
            EntryState::ConfigMap => {}
            EntryState::Present { .. } if !needed_by.is_empty() => {
                actions.push(keep(still_needed(&needed_by)));
            }
            EntryState::Present { ours: false } => actions.push(keep(TAG_MISSING.to_owned())),
            EntryState::Present { ours: true } => {
                if let Some(why) = &observed.elsewhere_unchecked {
                    notes.push(format!(
                        "cluster Secrets in other namespaces were not checked ({why}): an Argo CD elsewhere on this hub that reaches {} as {principal} loses that access",
                        cluster.name
                    ));
                }
                actions.push(RemovalAction {
                    change: Removal::Delete,
                    step,
                    detail: "created by kubectl-argocd-eks; no other registration uses it"
                        .to_owned(),
                });
            }
        }
    }

    // Argo CD's identity: only when no remaining registration needs it.
    let needing: Vec<&EksRegistration> = remaining
        .iter()
        .copied()
        .filter(|r| r.uses_argocd_identity())
        .collect();
    let in_sa_order = ARGOCD_SERVICE_ACCOUNTS.iter().flat_map(|(name, _)| {
        observed
            .associations
            .iter()
            .filter(move |a| a.association.service_account.name == *name)
    });
    for observed_association in in_sa_order {
        let association = &observed_association.association;
        if association.service_account.namespace != *namespace {
            continue;
        }
        let Some(hub_cluster) = observed.hub_cluster.clone() else {
            continue;
        };
        let (change, detail) = if !needing.is_empty() {
            (Removal::Keep, still_needed(&needing))
        } else if !observed_association.ours {
            (Removal::Keep, TAG_MISSING.to_owned())
        } else {
            (
                Removal::Delete,
                format!(
                    "{}, role {}; no registration needs Argo CD's identity any more",
                    association.id, association.role_arn
                ),
            )
        };
        actions.push(RemovalAction {
            change,
            detail,
            step: RemovalStep::DeletePodIdentityAssociation {
                hub_cluster,
                association_id: association.id.clone(),
                service_account: association.service_account.clone(),
                role_arn: association.role_arn.clone(),
            },
        });
    }
    for (name, _) in ARGOCD_SERVICE_ACCOUNTS {
        let Some(sa) = observed.service_accounts.iter().find(|sa| sa.name == name) else {
            continue;
        };
        let Some(role) = &sa.irsa_role else {
            continue;
        };
        let (change, detail) = if !needing.is_empty() {
            (Removal::Keep, still_needed(&needing))
        } else if !sa.annotation_ours {
            (
                Removal::Keep,
                "set by someone else, not by kubectl-argocd-eks (its field manager does not own it)"
                    .to_owned(),
            )
        } else {
            (
                Removal::Delete,
                format!("{role}; no registration needs Argo CD's identity any more"),
            )
        };
        actions.push(RemovalAction {
            change,
            detail,
            step: RemovalStep::RemoveServiceAccountAnnotation {
                service_account: SaRef::new(namespace, name),
                role_arn: role.clone(),
            },
        });
    }
    if needing.is_empty()
        && let Some(why) = &observed.associations_unchecked
    {
        notes.push(format!(
            "pod identity associations were not checked ({why}); if Argo CD used pod identity, remove them with aws eks delete-pod-identity-association"
        ));
    }

    RemovalPlan {
        namespace: namespace.clone(),
        secrets: removing.to_vec(),
        actions,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const MANAGEMENT: &str = "arn:aws:iam::123456789012:role/argocd-management";
    const TARGET: &str = "arn:aws:iam::210987654321:role/argocd-deployer";
    const CA: &str = "Q0E=";

    fn arn(region: &str, name: &str) -> ClusterArn {
        ClusterArn::new("aws", region, "123456789012", name)
    }

    fn endpoint(name: &str, region: &str) -> String {
        format!(
            "https://{}.gr7.{region}.eks.amazonaws.com",
            name.to_uppercase()
        )
    }

    /// A Secret as `add` writes it.
    fn ours(secret: &str, cluster: &str, region: &str, role: Option<&str>) -> ObservedSecret {
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

    fn secret_with(name: &str, data: &[(&str, &str)]) -> ObservedSecret {
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

    fn reg(secret: &ObservedSecret) -> EksRegistration {
        EksRegistration::from_secret(secret).unwrap()
    }

    fn described(name: &str, region: &str) -> EksCluster {
        EksCluster {
            arn: arn(region, name),
            endpoint: endpoint(name, region),
            ca_data: CA.into(),
            status: "ACTIVE".into(),
            version: None,
            oidc_issuer: None,
            authentication_mode: None,
        }
    }

    #[test]
    fn recognises_the_three_eks_formats_and_skips_others() {
        let tool = reg(&ours("eks-prod", "prod", "eu-west-1", Some(TARGET)));
        assert_eq!(tool.format, Format::AwsAuth);
        assert_eq!(tool.cluster_name.as_deref(), Some("prod"));
        assert_eq!(tool.region.as_deref(), Some("eu-west-1"));
        assert_eq!(tool.account.as_deref(), Some("123456789012"));
        assert_eq!(tool.role_arn.as_deref(), Some(TARGET));
        assert_eq!(tool.ca_data.as_deref(), Some(CA));
        assert!(tool.managed_by_us());

        // Hand-made: display name is not an ARN, server host gives the region.
        let hand = reg(&secret_with(
            "prod",
            &[
                ("name", "production"),
                ("server", "https://ABC.yl4.us-west-2.eks.amazonaws.com/"),
                ("config", r#"{"bearerToken":"x"}"#),
            ],
        ));
        assert_eq!(hand.format, Format::Endpoint);
        assert_eq!(hand.region.as_deref(), Some("us-west-2"));
        assert_eq!((&hand.cluster_name, &hand.account), (&None, &None));
        assert_eq!(hand.server, "https://ABC.yl4.us-west-2.eks.amazonaws.com");
        assert!(!hand.managed_by_us());

        let capability = reg(&secret_with(
            "cap",
            &[
                ("name", "in-cluster-prod"),
                (
                    "server",
                    "arn:aws:eks:eu-west-1:210987654321:cluster/team-b",
                ),
            ],
        ));
        assert_eq!(capability.format, Format::Capability);
        assert_eq!(capability.cluster_name.as_deref(), Some("team-b"));
        assert_eq!(capability.account.as_deref(), Some("210987654321"));
        assert!(!capability.uses_argocd_identity());

        for other in [
            secret_with("gke", &[("server", "https://34.1.2.3")]),
            secret_with("none", &[("name", "x")]),
        ] {
            assert_eq!(EksRegistration::from_secret(&other), None);
        }
    }

    #[test]
    fn region_comes_from_the_endpoint_host() {
        assert_eq!(
            eks_host_region("https://A1.gr7.eu-west-1.eks.amazonaws.com:443/x").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            eks_host_region("https://A1.cn-north-1.eks.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(eks_host_region("https://127.0.0.1:6443"), None);
        assert_eq!(
            eks_host_region("https://eks.amazonaws.com.example.org"),
            None
        );
    }

    #[test]
    fn select_by_secret_name_cluster_name_or_arn_and_report_the_candidates() {
        let registrations = eks_registrations(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "prod", "us-east-1", None),
            ours("c", "staging", "us-east-1", None),
        ]);
        assert_eq!(select(&registrations, "c", "argocd").unwrap().secret, "c");
        assert_eq!(
            select(&registrations, "staging", "argocd").unwrap().secret,
            "c"
        );
        let by_arn = select(
            &registrations,
            "arn:aws:eks:us-east-1:123456789012:cluster/prod",
            "argocd",
        );
        assert_eq!(by_arn.unwrap().secret, "b");

        let ambiguous = select(&registrations, "prod", "argocd").unwrap_err();
        assert!(matches!(ambiguous, SelectError::Ambiguous { .. }));
        let text = ambiguous.to_string();
        assert!(text.contains("a = prod (eu-west-1)") && text.contains("b = prod (us-east-1)"));
        assert!(text.contains("by its Secret name"), "{text}");

        let none = select(&registrations, "nope", "argocd").unwrap_err();
        assert!(matches!(none, SelectError::None { .. }));
        assert!(
            none.to_string().contains("c = staging (us-east-1)"),
            "{none}"
        );
        let empty = select(&[], "nope", "argocd").unwrap_err();
        assert!(empty.to_string().contains("none are registered"), "{empty}");
    }

    #[test]
    fn health_compares_endpoint_and_ca_in_the_right_account() {
        let registration = reg(&ours("a", "prod", "eu-west-1", None));
        let mut cluster = described("prod", "eu-west-1");
        let account = Some("123456789012");
        assert_eq!(
            health(&registration, account, Some(Some(&cluster))),
            Health::Ok
        );
        cluster.ca_data = "TkVX".into();
        assert_eq!(
            health(&registration, account, Some(Some(&cluster))),
            Health::CaRotated
        );
        cluster.endpoint = "https://elsewhere.example".into();
        assert_eq!(
            health(&registration, account, Some(Some(&cluster))),
            Health::Moved
        );
        assert_eq!(health(&registration, account, Some(None)), Health::Missing);
        // Not found with another account's credentials, or an error: cannot tell.
        assert_eq!(
            health(&registration, Some("999999999999"), Some(None)),
            Health::Unknown
        );
        assert_eq!(health(&registration, None, Some(None)), Health::Unknown);
        assert_eq!(health(&registration, account, None), Health::Unknown);
        cluster.arn.account = "999999999999".into();
        assert_eq!(
            health(&registration, account, Some(Some(&cluster))),
            Health::Unknown
        );
    }

    fn sas(role: Option<&str>, ours: bool) -> Vec<ServiceAccountIdentity> {
        ARGOCD_SERVICE_ACCOUNTS
            .iter()
            .map(|(name, _)| ServiceAccountIdentity {
                name: (*name).into(),
                irsa_role: role.map(str::to_owned),
                annotation_ours: ours,
            })
            .collect()
    }

    fn associations(ours: bool) -> Vec<ObservedAssociation> {
        ARGOCD_SERVICE_ACCOUNTS
            .iter()
            .map(|(name, _)| ObservedAssociation {
                association: PodIdentityAssociation {
                    id: format!("a-{name}"),
                    service_account: SaRef::new("argocd", name),
                    role_arn: MANAGEMENT.into(),
                    managed_by_us: true,
                    changed_at: None,
                },
                ours,
            })
            .collect()
    }

    fn observed(secrets: &[ObservedSecret]) -> ObservedRemoval {
        ObservedRemoval {
            namespace: "argocd".into(),
            registrations: eks_registrations(secrets),
            service_accounts: sas(None, false),
            hub_cluster: Some(arn("us-east-1", "argocd-hub")),
            associations: associations(true),
            ..ObservedRemoval::default()
        }
    }

    fn found(cluster: &str, region: &str, principal: &str, entry: EntryState) -> ObservedTarget {
        ObservedTarget::Found {
            cluster: arn(region, cluster),
            endpoint: endpoint(cluster, region),
            principal: principal.into(),
            entry,
        }
    }

    fn summary(plan: &RemovalPlan) -> Vec<(Removal, String)> {
        plan.actions
            .iter()
            .map(|a| (a.change, a.step.subject()))
            .collect()
    }

    #[test]
    fn identity_stays_while_another_registration_needs_it() {
        let mut observed = observed(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "legacy", "eu-west-1", None),
        ]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                MANAGEMENT,
                EntryState::Present { ours: true },
            ),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        let actions = summary(&plan);
        assert_eq!(actions[0], (Removal::Delete, "Secret argocd/a".into()));
        assert_eq!(
            actions[1],
            (
                Removal::Delete,
                format!("AccessEntry {MANAGEMENT} on EKS cluster prod")
            )
        );
        assert_eq!(actions.len(), 5);
        for action in &plan.actions[2..] {
            assert_eq!(action.change, Removal::Keep);
            assert_eq!(action.detail, "still needed by Secret argocd/b");
        }

        // The last one takes the associations with it.
        let mut last = observed.clone();
        last.registrations.retain(|r| r.secret == "b");
        last.targets.clear();
        let plan = plan_removal(&last, &["b".into()]);
        assert_eq!(plan.deletes().count(), 4, "{plan:#?}");
        assert!(
            plan.actions[1..]
                .iter()
                .all(|a| matches!(a.step, RemovalStep::DeletePodIdentityAssociation { .. }))
        );
    }

    #[test]
    fn removing_every_registration_at_once_frees_the_identity() {
        let observed = observed(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "legacy", "eu-west-1", None),
        ]);
        let plan = plan_removal(&observed, &["a".into(), "b".into()]);
        assert_eq!(plan.deletes().count(), 5);
    }

    #[test]
    fn identity_not_made_by_the_tool_is_kept() {
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", None)]);
        observed.associations = associations(false);
        observed.service_accounts = sas(Some(MANAGEMENT), false);
        observed.service_accounts[0].annotation_ours = true;
        let plan = plan_removal(&observed, &["a".into()]);
        let kept: Vec<&RemovalAction> = plan
            .actions
            .iter()
            .filter(|a| a.change == Removal::Keep)
            .collect();
        assert_eq!(kept.len(), 5);
        assert!(kept[..3].iter().all(|a| a.detail.contains("managed-by")));
        assert!(kept[3].detail.contains("someone else"));
        assert_eq!(
            summary(&plan)[4],
            (
                Removal::Delete,
                "ServiceAccount argocd/argocd-application-controller annotation eks.amazonaws.com/role-arn".into()
            )
        );
    }

    #[test]
    fn capability_registrations_do_not_hold_argocd_identity() {
        let capability = secret_with(
            "cap",
            &[("server", "arn:aws:eks:eu-west-1:123456789012:cluster/prod")],
        );
        let observed = observed(&[ours("a", "prod", "eu-west-1", None), capability]);
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.deletes().count(), 4);
    }

    #[test]
    fn access_entry_stays_while_the_same_principal_reaches_the_same_cluster() {
        let same = ours("b", "prod", "eu-west-1", Some(TARGET));
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", Some(TARGET)), same]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                TARGET,
                EntryState::Present { ours: true },
            ),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep);
        assert_eq!(plan.actions[1].detail, "still needed by Secret argocd/b");

        // Another principal on the same cluster does not hold it.
        let other = ours("b", "prod", "eu-west-1", None);
        observed.registrations =
            eks_registrations(&[ours("a", "prod", "eu-west-1", Some(TARGET)), other]);
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Delete);
    }

    #[test]
    fn access_entries_used_from_another_namespace_stay() {
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", Some(TARGET))]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                TARGET,
                EntryState::Present { ours: true },
            ),
        ));
        let mut other = reg(&ours("x", "prod", "eu-west-1", None));
        other.namespace = "argocd-team-b".into();
        observed.elsewhere = vec![other.clone()];
        // Direct mode over there: its management role is not known, so it may be TARGET.
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep);
        assert_eq!(
            plan.actions[1].detail,
            "still needed by Secret argocd-team-b/x"
        );

        // Their management role is known and is not TARGET, or they have no identity at all.
        for theirs in [Some(MANAGEMENT.to_owned()), None] {
            observed
                .elsewhere_management
                .insert("argocd-team-b".into(), theirs);
            let plan = plan_removal(&observed, &["a".into()]);
            assert_eq!(plan.actions[1].change, Removal::Delete);
            assert!(plan.notes.is_empty());
        }
        observed
            .elsewhere_management
            .insert("argocd-team-b".into(), Some(TARGET.into()));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep);

        other.role_arn = Some(MANAGEMENT.into());
        observed.elsewhere = vec![other];
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Delete);

        observed.elsewhere.clear();
        observed.elsewhere_unchecked = Some("forbidden".into());
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Delete);
        assert!(plan.notes[0].contains("other namespaces were not checked (forbidden)"));
    }

    #[test]
    fn direct_mode_principal_is_the_management_role() {
        let mut observed = observed(&[
            ours("a", "prod", "eu-west-1", None),
            ours("b", "prod", "eu-west-1", Some(MANAGEMENT)),
        ]);
        observed.targets.push((
            "a".into(),
            found(
                "prod",
                "eu-west-1",
                MANAGEMENT,
                EntryState::Present { ours: true },
            ),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions[1].change, Removal::Keep, "{plan:#?}");
    }

    #[test]
    fn untagged_entries_are_kept_and_config_map_clusters_get_a_note() {
        let mut observed = observed(&[
            ours("a", "prod", "eu-west-1", Some(TARGET)),
            ours("b", "legacy", "eu-west-1", Some(TARGET)),
        ]);
        observed.targets = vec![
            (
                "a".into(),
                found(
                    "prod",
                    "eu-west-1",
                    TARGET,
                    EntryState::Present { ours: false },
                ),
            ),
            (
                "b".into(),
                found("legacy", "eu-west-1", TARGET, EntryState::ConfigMap),
            ),
        ];
        let plan = plan_removal(&observed, &["a".into(), "b".into()]);
        assert_eq!(plan.actions[2].change, Removal::Keep);
        assert!(plan.actions[2].detail.starts_with("not created by"));
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].contains("aws-auth"), "{:?}", plan.notes);
        assert!(plan.notes[0].contains(TARGET));
    }

    #[test]
    fn unchecked_targets_and_associations_are_noted_not_touched() {
        let mut observed = observed(&[ours("a", "prod", "eu-west-1", None)]);
        observed.associations.clear();
        observed.associations_unchecked = Some("the hub's EKS cluster is unknown".into());
        observed.targets.push((
            "a".into(),
            ObservedTarget::NotChecked("cluster prod was not found".into()),
        ));
        let plan = plan_removal(&observed, &["a".into()]);
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(plan.notes.len(), 2);
        assert!(plan.notes[1].contains("delete-pod-identity-association"));
    }

    #[test]
    fn foreign_secrets_may_be_deleted_and_say_so() {
        let mut hand = ours("hand", "prod", "eu-west-1", None);
        hand.labels.remove(MANAGED_BY_LABEL);
        let plan = plan_removal(&observed(&[hand]), &["hand".into()]);
        assert_eq!(plan.actions[0].change, Removal::Delete);
        assert!(plan.actions[0].detail.contains("not by kubectl-argocd-eks"));
    }

    #[test]
    fn management_role_prefers_irsa() {
        assert_eq!(
            management_role(&sas(Some("irsa"), true), &associations(true)).as_deref(),
            Some("irsa")
        );
        assert_eq!(
            management_role(&sas(None, false), &associations(true)).as_deref(),
            Some(MANAGEMENT)
        );
        assert_eq!(management_role(&sas(None, false), &[]), None);
    }
}
