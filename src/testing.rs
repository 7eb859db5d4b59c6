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
    }
}
