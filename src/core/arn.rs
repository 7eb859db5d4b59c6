//! ARNs the tool builds and accepts: EKS clusters and IAM roles, parsed against the partition table.

use std::fmt;

use serde::Serialize;

use super::partition::Partition;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ArnError {
    #[error(
        "{0:?} is not an EKS cluster ARN (expected arn:aws:eks:<region>:<account>:cluster/<name>)"
    )]
    NotClusterArn(String),
    #[error(
        "{0:?} is an assumed-role session ARN; use the role's own ARN, arn:aws:iam::<account>:role/<name>"
    )]
    AssumedRole(String),
    #[error("{0:?} is not an IAM role ARN (expected arn:aws:iam::<account>:role/<name>)")]
    NotRoleArn(String),
    #[error(
        "{0:?} is an IAM role ARN, not an EKS cluster ARN: name the target cluster (its name with --region, or arn:aws:eks:<region>:<account>:cluster/<name>); roles go in --role-arn or --management-role-arn"
    )]
    RoleNotCluster(String),
    #[error(
        "{0:?} is an EKS cluster ARN, not an IAM role ARN: give the role's ARN (arn:aws:iam::<account>:role/<name>); the cluster itself is the CLUSTER argument"
    )]
    ClusterNotRole(String),
    #[error(
        "{arn:?} names partition {partition:?}, which AWS does not have (aws, aws-cn, aws-us-gov, ...)"
    )]
    UnknownPartition { arn: String, partition: String },
    #[error(
        "{arn:?} puts region {region} in partition {partition}, but {region} is in {expected} (arn:{expected}:...)"
    )]
    WrongPartition {
        arn: String,
        region: String,
        partition: String,
        expected: &'static str,
    },
}

/// The ARN's partition must be one AWS has.
fn known_partition(text: &str, partition: &str) -> Result<(), ArnError> {
    match Partition::by_id(partition) {
        Some(_) => Ok(()),
        None => Err(ArnError::UnknownPartition {
            arn: text.to_owned(),
            partition: partition.to_owned(),
        }),
    }
}

/// Whether `text` is an ARN of `service` whose resource starts with `prefix`, whatever else
/// is wrong with it (to name the kind of ARN given where another kind goes).
fn is_kind(text: &str, service: &str, prefix: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, s, _, _, resource] if *s == service && resource.starts_with(prefix))
}

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A region's shape: `us-east-1`, `us-gov-west-1`, `eu-isoe-west-1` (lower-case parts, a
/// number last), so it can go into names and host names as it is.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn is_cluster_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
        && text.len() <= 100
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An EKS cluster's ARN: `arn:<partition>:eks:<region>:<account>:cluster/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub(crate) struct ClusterArn {
    pub(crate) partition: String,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) name: String,
}

impl ClusterArn {
    pub(crate) fn new(partition: &str, region: &str, account: &str, name: &str) -> Self {
        ClusterArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, ArnError> {
        let bad = || {
            if is_kind(text, "iam", "role/") {
                ArnError::RoleNotCluster(text.to_owned())
            } else {
                ArnError::NotClusterArn(text.to_owned())
            }
        };
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(bad());
        };
        let name = resource.strip_prefix("cluster/").ok_or_else(bad)?;
        if *arn != "arn"
            || *service != "eks"
            || partition.is_empty()
            || !is_region(region)
            || !is_account(account)
            || !is_cluster_name(name)
        {
            return Err(bad());
        }
        known_partition(text, partition)?;
        let expected = Partition::of_region(region).id;
        if expected != *partition {
            return Err(ArnError::WrongPartition {
                arn: text.to_owned(),
                region: (*region).to_owned(),
                partition: (*partition).to_owned(),
                expected,
            });
        }
        Ok(ClusterArn::new(partition, region, account, name))
    }

    /// Whether `text` looks like a cluster name EKS would accept.
    pub(crate) fn valid_name(text: &str) -> bool {
        is_cluster_name(text)
    }
}

impl fmt::Display for ClusterArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:eks:{}:{}:cluster/{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

impl From<ClusterArn> for String {
    fn from(arn: ClusterArn) -> String {
        arn.to_string()
    }
}

/// An IAM role's ARN (never an sts assumed-role session ARN).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub(crate) struct RoleArn {
    pub(crate) partition: String,
    pub(crate) account: String,
    /// Path and name after `role/`, e.g. `teams/argocd` or `argocd`.
    pub(crate) path_and_name: String,
}

impl RoleArn {
    pub(crate) fn parse(text: &str) -> Result<Self, ArnError> {
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(ArnError::NotRoleArn(text.to_owned()));
        };
        if *service == "sts" && resource.starts_with("assumed-role/") {
            return Err(ArnError::AssumedRole(text.to_owned()));
        }
        let path_and_name = resource
            .strip_prefix("role/")
            .filter(|rest| !rest.is_empty() && !rest.ends_with('/'));
        match path_and_name {
            Some(path_and_name)
                if *arn == "arn"
                    && *service == "iam"
                    && region.is_empty()
                    && !partition.is_empty()
                    && is_account(account) =>
            {
                known_partition(text, partition)?;
                Ok(RoleArn {
                    partition: (*partition).to_owned(),
                    account: (*account).to_owned(),
                    path_and_name: path_and_name.to_owned(),
                })
            }
            _ if is_kind(text, "eks", "cluster/") => Err(ArnError::ClusterNotRole(text.to_owned())),
            _ => Err(ArnError::NotRoleArn(text.to_owned())),
        }
    }

    /// The role's name without its path.
    pub(crate) fn name(&self) -> &str {
        self.path_and_name
            .rsplit('/')
            .next()
            .unwrap_or(&self.path_and_name)
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role/{}",
            self.partition, self.account, self.path_and_name
        )
    }
}

impl From<RoleArn> for String {
    fn from(arn: RoleArn) -> String {
        arn.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_arn_round_trips() {
        let text = "arn:aws:eks:eu-west-1:123456789012:cluster/prod_eu-1";
        let arn = ClusterArn::parse(text).unwrap();
        assert_eq!(arn.region, "eu-west-1");
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.name, "prod_eu-1");
        assert_eq!(arn.to_string(), text);
    }

    #[test]
    fn cluster_arn_rejects_other_arns() {
        for text in [
            "prod",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:eks:us-east-1:1234:cluster/x",
            "arn:aws:eks:us-east-1:123456789012:nodegroup/x/y",
            "arn:aws:eks:us-east-1:123456789012:cluster/-x",
            // Regions that are no region (found by core::properties: they made Secret names
            // Kubernetes refuses).
            "arn:aws:eks:\u{a1}:123456789012:cluster/A",
            "arn:aws:eks:US-EAST-1:123456789012:cluster/x",
            "arn:aws:eks:us-east:123456789012:cluster/x",
            "arn:aws:eks:us--east-1:123456789012:cluster/x",
            "arn:aws:eks:us.east-1:123456789012:cluster/x",
        ] {
            assert!(ClusterArn::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn arns_in_every_partition_and_only_there() {
        for text in [
            "arn:aws-cn:eks:cn-north-1:123456789012:cluster/prod",
            "arn:aws-us-gov:eks:us-gov-west-1:123456789012:cluster/prod",
            "arn:aws-iso-b:eks:us-isob-east-1:123456789012:cluster/prod",
        ] {
            assert_eq!(ClusterArn::parse(text).unwrap().to_string(), text);
        }
        assert!(matches!(
            ClusterArn::parse("arn:aws:eks:cn-north-1:123456789012:cluster/prod"),
            Err(ArnError::WrongPartition {
                expected: "aws-cn",
                ..
            })
        ));
        assert!(matches!(
            ClusterArn::parse("arn:aws-cn:eks:us-east-1:123456789012:cluster/prod"),
            Err(ArnError::WrongPartition {
                expected: "aws",
                ..
            })
        ));
        assert!(matches!(
            ClusterArn::parse("arn:aws-mars:eks:us-east-1:123456789012:cluster/prod"),
            Err(ArnError::UnknownPartition { .. })
        ));
        let role = RoleArn::parse("arn:aws-cn:iam::123456789012:role/argocd").unwrap();
        assert_eq!(role.partition, "aws-cn");
        assert!(matches!(
            RoleArn::parse("arn:amazon:iam::123456789012:role/argocd"),
            Err(ArnError::UnknownPartition { .. })
        ));
    }

    #[test]
    fn an_arn_of_the_other_kind_is_named_as_such() {
        let role = "arn:aws:iam::123456789012:role/argocd";
        let cluster = "arn:aws:eks:us-east-1:123456789012:cluster/prod";
        assert_eq!(
            ClusterArn::parse(role),
            Err(ArnError::RoleNotCluster(role.into()))
        );
        assert_eq!(
            RoleArn::parse(cluster),
            Err(ArnError::ClusterNotRole(cluster.into()))
        );
        assert!(
            ArnError::RoleNotCluster(role.into())
                .to_string()
                .contains("--role-arn")
        );
    }

    #[test]
    fn role_arn_parses_paths_and_rejects_sessions() {
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/teams/argocd").unwrap();
        assert_eq!(role.name(), "argocd");
        assert_eq!(
            role.to_string(),
            "arn:aws:iam::123456789012:role/teams/argocd"
        );
        assert_eq!(
            RoleArn::parse("arn:aws:sts::123456789012:assumed-role/argocd/session"),
            Err(ArnError::AssumedRole(
                "arn:aws:sts::123456789012:assumed-role/argocd/session".into()
            ))
        );
        for text in [
            "argocd",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert!(
                matches!(RoleArn::parse(text), Err(ArnError::NotRoleArn(_))),
                "{text}"
            );
        }
    }
}
