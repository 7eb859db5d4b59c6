//! Plans and results as text for people, or YAML / JSON for machines.

use std::io::Write;

use serde::Serialize;

use super::args::OutputFormat;
use crate::core::plan::{Change, Plan, Step};
use crate::error::{Error, Result};

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

/// A spinner on stderr while something slow runs; silent when stderr is not a terminal.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    pub fn start(message: &str) -> Self {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Spinner(Some(bar))
    }

    pub fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Output(e.to_string())
}

pub fn write_document(out: &mut dyn Write, format: OutputFormat, report: &AddReport) -> Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(write_err)?;
            writeln!(out).map_err(write_err)
        }
        OutputFormat::Yaml => {
            let text = serde_saphyr::to_string(report).map_err(write_err)?;
            out.write_all(text.as_bytes()).map_err(write_err)
        }
        OutputFormat::Text => write_plan(out, report.plan),
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
        writeln!(
            out,
            "  {} {:<9} {}  ({})",
            marker(action.change),
            action.change.to_string(),
            action.step.subject(),
            action.detail
        )
        .map_err(write_err)?;
    }
    for note in &plan.notes {
        writeln!(out, "note: {note}").map_err(write_err)?;
    }
    Ok(())
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
    let summary = format!(
        "{} created, {} updated, {} unchanged",
        count(Change::Create),
        count(Change::Update),
        count(Change::Unchanged)
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
