//! What `remove` reports: its plan, one line per object, and the outcome.

use serde::Serialize;

use super::add::restart_command;
use crate::core::removal::{Removal, RemovalPlan};
use crate::error::{Error, Result};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveReport<'a> {
    pub plan: &'a RemovalPlan,
    /// `applied`, `dry-run-client`, `dry-run-server`.
    pub outcome: &'a str,
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Output(e.to_string())
}

fn marker(change: Removal) -> &'static str {
    match change {
        Removal::Delete => "-",
        Removal::Keep => "=",
    }
}

/// The plan, one line per object: `- delete`, `= keep` with the reason.
pub fn write_plan(out: &mut dyn std::io::Write, plan: &RemovalPlan) -> Result<()> {
    writeln!(
        out,
        "Plan to remove {} from Argo CD (namespace {}):",
        plan.secrets.join(", "),
        plan.namespace
    )
    .map_err(write_err)?;
    for action in &plan.actions {
        writeln!(
            out,
            "  {} {:<6} {}  ({})",
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

pub fn write_outcome(
    out: &mut dyn std::io::Write,
    plan: &RemovalPlan,
    outcome: &str,
) -> Result<()> {
    let deletes = plan.deletes().count();
    let kept = plan.actions.len() - deletes;
    match outcome {
        "applied" => writeln!(out, "Removed: {deletes} deleted, {kept} kept."),
        "dry-run-server" => writeln!(
            out,
            "Dry run (server): the API server accepted the Kubernetes writes; AWS writes were not sent; nothing was changed ({deletes} to delete, {kept} kept)."
        ),
        _ => writeln!(
            out,
            "Dry run: nothing was changed ({deletes} to delete, {kept} kept)."
        ),
    }
    .map_err(write_err)?;
    if outcome == "applied" && plan.deletes().any(|a| a.step.changes_identity()) {
        writeln!(
            out,
            "Argo CD's running pods keep their AWS credentials until they restart:\n  {}",
            restart_command(&plan.namespace)
        )
        .map_err(write_err)?;
    }
    Ok(())
}
