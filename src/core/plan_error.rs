//! Why no plan can be made: the refusals `plan` and `add` give before any write (a target
//! not ACTIVE, roles in another partition, ...), each naming the fix.

use super::model::{EksCluster, SaRef};
use super::plan::{HubIdentity, Registration};

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
        "{cluster}'s server {server} is already registered with Argo CD as Secret {}; Argo CD keeps one cluster per server, so {namespace}/{wanted} would be a second Secret for it. Pass --secret-name {} to update that one instead{}",
        holders.iter().map(|h| format!("{namespace}/{h}")).collect::<Vec<_>>().join(", "),
        holders[0],
        if holders.len() > 1 { " (and delete the others: Argo CD picks one of them at random)" } else { "" }
    )]
    ServerTaken {
        cluster: String,
        server: String,
        namespace: String,
        wanted: String,
        holders: Vec<String>,
    },
    #[error(
        "--native-chaining makes {target} the role of every Argo CD pod, but {} reach their clusters from the pods' current role; register them in the same add run with --native-chaining, or drop --native-chaining and keep roleARN in the Secret",
        others.join(", ")
    )]
    NativeChainingChangesOthers { target: String, others: Vec<String> },
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
    #[error("EKS cluster {cluster} is {status}, not ACTIVE: {advice}")]
    NotActive {
        cluster: String,
        status: String,
        advice: String,
    },
}

/// A target must be ACTIVE (or UPDATING, which serves as before) to be registered: a CREATING
/// one has no endpoint or CA to put in the Secret yet, a DELETING or FAILED one never will.
pub(crate) fn check_ready(cluster: &EksCluster) -> Result<(), PlanError> {
    let arn = &cluster.arn;
    let wait = format!(
        "aws eks wait cluster-active --name {} --region {}",
        arn.name, arn.region
    );
    let advice = match cluster.status.as_str() {
        "ACTIVE" | "UPDATING" => return Ok(()),
        "CREATING" | "PENDING" => format!(
            "it has no endpoint to register yet; wait until it is ACTIVE ({wait}) and run the same command again"
        ),
        "DELETING" => "it is being deleted; register another cluster".to_owned(),
        "FAILED" => format!(
            "its creation failed; see why with aws eks describe-cluster --name {} --region {}, recreate it, then register it",
            arn.name, arn.region
        ),
        _ => format!("wait until it is ACTIVE ({wait}) and run the same command again"),
    };
    Err(PlanError::NotActive {
        cluster: arn.to_string(),
        status: cluster.status.clone(),
        advice,
    })
}

/// The roles on the way to a target must be in its partition: STS in one partition cannot
/// assume a role of another, and EKS maps only its own partition's principals.
pub(super) fn check_partitions(
    identity: &HubIdentity,
    registration: &Registration,
) -> Result<(), PlanError> {
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
