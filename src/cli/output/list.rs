//! What `list` reports: one row per registered EKS cluster, as a table or a document.

use std::io::{self, Write};

use serde::Serialize;

use super::Text;
use crate::core::registration::Health;

/// One line of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedCluster {
    pub(crate) secret: String,
    /// Argo CD's name for the cluster.
    pub(crate) name: Option<String>,
    pub(crate) cluster: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) server: String,
    /// `irsa`, `pod-identity`, `capability` or `unknown`.
    pub(crate) mode: String,
    /// roleARN, `direct` (the management role itself), or None when not awsAuthConfig.
    pub(crate) role: Option<String>,
    pub(crate) managed_by: Option<String>,
    pub(crate) managed_by_us: bool,
    pub(crate) health: Health,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListReport {
    pub(crate) namespace: String,
    pub(crate) clusters: Vec<ListedCluster>,
    /// Cluster Secrets in the namespace that do not point at EKS.
    pub(crate) other_cluster_secrets: usize,
}

/// The table, one row per cluster.
impl Text for ListReport {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        write_table(
            out,
            &self.namespace,
            &self.clusters,
            self.other_cluster_secrets,
        )
    }
}

fn write_table(
    out: &mut dyn Write,
    namespace: &str,
    clusters: &[ListedCluster],
    others: usize,
) -> io::Result<()> {
    if clusters.is_empty() {
        writeln!(
            out,
            "No EKS cluster is registered with Argo CD in namespace {namespace}."
        )?;
    } else {
        let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
        let mut rows = vec![
            [
                "SECRET",
                "CLUSTER",
                "REGION",
                "ACCOUNT",
                "MODE",
                "ROLE",
                "MANAGED-BY",
                "HEALTH",
            ]
            .map(str::to_owned),
        ];
        for c in clusters {
            let managed_by = if c.managed_by_us {
                "kubectl-argocd-eks".to_owned()
            } else {
                c.managed_by.clone().unwrap_or_else(|| "other".to_owned())
            };
            rows.push([
                c.secret.clone(),
                dash(&c.cluster),
                dash(&c.region),
                dash(&c.account),
                c.mode.clone(),
                dash(&c.role),
                managed_by,
                c.health.to_string(),
            ]);
        }
        let mut widths = [0usize; 8];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            writeln!(out, "{}", line.join("  ").trim_end())?;
        }
    }
    if others > 0 {
        writeln!(
            out,
            "({others} other cluster Secret(s) in namespace {namespace} do not point at EKS.)"
        )?;
    }
    Ok(())
}
