//! Test helpers shared by the unit tests: fixtures of the core's types here, and in-memory
//! fakes of the ports (hub.rs, targets.rs, aws.rs, prompt.rs; the faults they inject in
//! faults.rs), so commands are tested without any server.

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

use crate::cli::args::Cli;
use crate::cli::settings::{Environment, Settings};
use crate::commands::Ports;
use crate::commands::accounts::Accounts;
use crate::core::secret::{DesiredSecret, OwnedFields};
use crate::error::Result;

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

mod aws;
mod faults;
mod hub;
mod prompt;
mod targets;

pub(crate) use aws::*;
pub(crate) use faults::*;
pub(crate) use hub::*;
pub(crate) use prompt::*;
