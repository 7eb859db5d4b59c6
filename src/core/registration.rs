//! Registered EKS clusters as Argo CD's cluster Secrets describe them: reading one back
//! (`list`, `remove` and `doctor` share it), picking the one a CLUSTER argument names, and its
//! health against DescribeCluster. Pure: no I/O.

use std::fmt;

use serde::Serialize;

use super::model::{ClusterArn, EksCluster, Lookup, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use super::partition::eks_endpoint_region;
use super::secret::ObservedSecret;

/// How Argo CD reaches a registered EKS cluster, as its Secret says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Format {
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
pub(crate) struct EksRegistration {
    pub(crate) namespace: String,
    /// The Secret's name.
    pub(crate) secret: String,
    /// Argo CD's name for the cluster (`name` in the Secret).
    pub(crate) display_name: Option<String>,
    pub(crate) server: String,
    pub(crate) format: Format,
    /// The EKS cluster's name: `awsAuthConfig.clusterName`, else from the ARN.
    pub(crate) cluster_name: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) account: Option<String>,
    /// `awsAuthConfig.roleARN`; None is direct mode (the management role itself).
    pub(crate) role_arn: Option<String>,
    /// `tlsClientConfig.caData`.
    pub(crate) ca_data: Option<String>,
    /// The Secret's `app.kubernetes.io/managed-by` label.
    pub(crate) managed_by: Option<String>,
}

impl EksRegistration {
    /// Read a cluster Secret; None when it does not point at EKS.
    pub(crate) fn from_secret(secret: &ObservedSecret) -> Option<Self> {
        let server = secret.server()?.to_owned();
        // As Argo CD decodes it: `roleArn` is roleARN, an empty roleARN is direct mode.
        let config = secret.config();
        let aws = config.as_ref().and_then(|c| c.aws_auth_config.as_ref());
        let server_arn = ClusterArn::parse(&server).ok();
        let display_name = secret.data.get("name").cloned();
        let name_arn = display_name
            .as_deref()
            .and_then(|name| ClusterArn::parse(name).ok());
        let host_region = eks_endpoint_region(&server);
        let format = if server_arn.is_some() {
            Format::Capability
        } else if aws.is_some() {
            Format::AwsAuth
        } else if host_region.is_some() {
            Format::Endpoint
        } else {
            return None;
        };
        let cluster_name = aws
            .map(|a| a.cluster_name.clone())
            .filter(|name| !name.is_empty());
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
            role_arn: aws.and_then(|a| a.role_arn.clone()),
            ca_data: config
                .as_ref()
                .and_then(|c| c.tls_client_config.ca_data.clone())
                .filter(|ca| !ca.is_empty()),
            managed_by: secret.labels.get(MANAGED_BY_LABEL).cloned(),
            server,
        })
    }

    pub(crate) fn managed_by_us(&self) -> bool {
        self.managed_by.as_deref() == Some(MANAGED_BY_VALUE)
    }

    /// Whether Argo CD's own pods reach this cluster with their AWS identity (the capability
    /// uses its own role instead).
    pub(crate) fn uses_argocd_identity(&self) -> bool {
        self.format != Format::Capability
    }

    /// The role the target must let in: roleARN, else the management role (direct mode).
    pub(crate) fn principal(&self, management_role: Option<&str>) -> Option<String> {
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
    pub(crate) fn reaches(&self, cluster: &ClusterArn, server: &str) -> bool {
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
    pub(crate) fn describe(&self) -> String {
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
pub(crate) fn eks_registrations(secrets: &[ObservedSecret]) -> Vec<EksRegistration> {
    let mut found: Vec<EksRegistration> = secrets
        .iter()
        .filter_map(EksRegistration::from_secret)
        .collect();
    found.sort_by(|a, b| a.secret.cmp(&b.secret));
    found
}

/// Why a CLUSTER argument picks no single registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectError {
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
pub(crate) fn select<'a>(
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
pub(crate) enum Health {
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

/// What DescribeCluster said about a registration's cluster. `client_account` is the account
/// the call was made in, when known.
pub(crate) fn health(
    registration: &EksRegistration,
    client_account: Option<&str>,
    described: Lookup<&EksCluster>,
) -> Health {
    let account = registration.account.as_deref();
    match described {
        Lookup::Unknown => Health::Unknown,
        // "Not found" means gone only when it was asked in the cluster's own account.
        Lookup::Absent if account.is_some() && account == client_account => Health::Missing,
        Lookup::Absent => Health::Unknown,
        Lookup::Found(cluster) if account.is_some_and(|a| a != cluster.arn.account) => {
            Health::Unknown
        }
        Lookup::Found(_) if registration.format == Format::Capability => Health::Ok,
        Lookup::Found(cluster) if cluster.endpoint.trim_end_matches('/') != registration.server => {
            Health::Moved
        }
        Lookup::Found(cluster)
            if registration
                .ca_data
                .as_ref()
                .is_some_and(|ca| *ca != cluster.ca_data) =>
        {
            Health::CaRotated
        }
        Lookup::Found(_) => Health::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CA, MANAGEMENT, TARGET, described, ours, reg, secret_with};

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
    fn config_is_read_as_argo_cd_reads_it() {
        let with_config = |config: &str| {
            let mut secret = ours("eks-prod", "prod", "eu-west-1", None);
            secret.data.insert("config".into(), config.into());
            reg(&secret)
        };
        // Go's encoding/json matches `roleArn` to roleARN, so Argo CD assumes that role.
        let spelled = with_config(&format!(
            r#"{{"awsAuthConfig":{{"clusterName":"prod","roleArn":"{TARGET}"}},"tlsClientConfig":{{"caData":"{CA}"}}}}"#
        ));
        assert_eq!(spelled.format, Format::AwsAuth);
        assert_eq!(spelled.role_arn.as_deref(), Some(TARGET));
        assert_eq!(spelled.principal(Some(MANAGEMENT)).as_deref(), Some(TARGET));
        let shouted = with_config(r#"{"AWSAUTHCONFIG":{"CLUSTERNAME":"prod"}}"#);
        assert_eq!(
            (shouted.format, shouted.cluster_name.as_deref()),
            (Format::AwsAuth, Some("prod"))
        );
        // An empty roleARN is direct mode: Argo CD passes no --role-arn.
        let empty = with_config(r#"{"awsAuthConfig":{"clusterName":"prod","roleARN":""}}"#);
        assert_eq!(empty.role_arn, None);
        assert_eq!(
            empty.principal(Some(MANAGEMENT)).as_deref(),
            Some(MANAGEMENT)
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
            health(&registration, account, Lookup::Found(&cluster)),
            Health::Ok
        );
        cluster.ca_data = "TkVX".into();
        assert_eq!(
            health(&registration, account, Lookup::Found(&cluster)),
            Health::CaRotated
        );
        cluster.endpoint = "https://elsewhere.example".into();
        assert_eq!(
            health(&registration, account, Lookup::Found(&cluster)),
            Health::Moved
        );
        assert_eq!(
            health(&registration, account, Lookup::Absent),
            Health::Missing
        );
        // Not found with another account's credentials, or an error: cannot tell.
        assert_eq!(
            health(&registration, Some("999999999999"), Lookup::Absent),
            Health::Unknown
        );
        assert_eq!(health(&registration, None, Lookup::Absent), Health::Unknown);
        assert_eq!(
            health(&registration, account, Lookup::Unknown),
            Health::Unknown
        );
        cluster.arn.account = "999999999999".into();
        assert_eq!(
            health(&registration, account, Lookup::Found(&cluster)),
            Health::Unknown
        );
    }
}
