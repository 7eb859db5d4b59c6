//! What `add` reports: its plan, one line per object, and the outcome.

use std::io::Write;

use serde::Serialize;

use super::{change_summary, write_err, write_notes, write_serialized, write_step};
use crate::cli::args::OutputFormat;
use crate::core::action::{Change, Step};
use crate::core::plan::Plan;
use crate::error::Result;

/// What `add` reports: the plan, and whether (and how) it was applied.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddReport<'a> {
    pub plan: &'a Plan,
    /// `applied`, `unchanged`, `dry-run-client`, `dry-run-server`.
    pub outcome: &'a str,
    /// Identity changed and the pods were not restarted by this run.
    pub restart_needed: bool,
    pub restart_command: String,
    /// Workloads restarted by `--restart`.
    pub restarted: Vec<String>,
}

pub fn write_document(out: &mut dyn Write, format: OutputFormat, report: &AddReport) -> Result<()> {
    match format {
        OutputFormat::Text => write_plan(out, report.plan),
        OutputFormat::Json | OutputFormat::Yaml => write_serialized(out, format, report),
    }
}

fn marker(change: Change) -> &'static str {
    match change {
        Change::Create => "+",
        Change::Update => "~",
        Change::Unchanged => "=",
    }
}

/// The plan, one line per object: `+ create`, `~ update`, `= unchanged`.
pub fn write_plan(out: &mut dyn Write, plan: &Plan) -> Result<()> {
    let clusters: Vec<String> = plan.clusters.iter().map(ToString::to_string).collect();
    writeln!(
        out,
        "Plan for {} (identity: {}):",
        clusters.join(", "),
        plan.identity
    )
    .map_err(write_err)?;
    for action in &plan.actions {
        write_step(
            out,
            marker(action.change),
            &action.change.to_string(),
            &action.step.subject(),
            &action.detail,
        )?;
    }
    write_notes(out, &plan.notes)
}

/// The kubectl command that restarts Argo CD's workloads in `namespace`.
pub fn restart_command(namespace: &str) -> String {
    format!(
        "kubectl -n {namespace} rollout restart statefulset/argocd-application-controller deployment/argocd-server deployment/argocd-applicationset-controller"
    )
}

/// The closing lines after a run: what was written, and what the user must still do.
pub fn write_outcome(out: &mut dyn Write, report: &AddReport) -> Result<()> {
    let count = |change: Change| {
        report
            .plan
            .actions
            .iter()
            .filter(|a| a.change == change)
            .count()
    };
    let secrets: Vec<String> = report
        .plan
        .actions
        .iter()
        .filter_map(|a| match &a.step {
            Step::ApplySecret { secret } => Some(format!("{}/{}", secret.namespace, secret.name)),
            _ => None,
        })
        .collect();
    let summary = change_summary(
        count(Change::Create),
        count(Change::Update),
        count(Change::Unchanged),
    );
    match report.outcome {
        "unchanged" => writeln!(
            out,
            "Nothing to change: already registered as Secret {}.",
            secrets.join(", ")
        ),
        "applied" => writeln!(
            out,
            "Registered as Secret {}: {summary}.",
            secrets.join(", ")
        ),
        "dry-run-server" => writeln!(
            out,
            "Dry run (server): the API server accepted the Kubernetes writes; AWS writes were not sent; nothing was changed ({summary})."
        ),
        _ => writeln!(out, "Dry run: nothing was changed ({summary})."),
    }
    .map_err(write_err)?;
    if !report.restarted.is_empty() {
        writeln!(out, "Restarted {}.", report.restarted.join(", ")).map_err(write_err)?;
    }
    if report.restart_needed {
        writeln!(
            out,
            "Argo CD's pods pick up the new identity only when restarted (or pass --restart):\n  {}",
            report.restart_command
        )
        .map_err(write_err)?;
    }
    Ok(())
}
