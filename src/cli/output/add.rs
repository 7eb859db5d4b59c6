//! What `add` reports: its plan, one line per object, and the outcome.

use std::io::{self, Write};

use serde::Serialize;

use super::{Outcome, PlanLine, Text, change_summary, write_notes, write_plan_lines};
use crate::core::action::{Action, Change, Step};
use crate::core::plan::Plan;

/// What `add` reports: the plan, and whether (and how) it was applied.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddReport<'a> {
    pub(crate) plan: &'a Plan,
    /// `applied`, `unchanged`, `dry-run-client`, `dry-run-server`.
    pub(crate) outcome: Outcome,
    /// Identity changed and the pods were not restarted by this run.
    pub(crate) restart_needed: bool,
    pub(crate) restart_command: String,
    /// Workloads restarted by `--restart`.
    pub(crate) restarted: Vec<String>,
}

impl PlanLine for Action {
    const WIDTH: usize = 9;

    fn marker(&self) -> &'static str {
        match self.change {
            Change::Create => "+",
            Change::Update => "~",
            Change::Unchanged => "=",
        }
    }

    fn word(&self) -> &'static str {
        match self.change {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
        }
    }

    fn subject(&self) -> String {
        self.step.subject()
    }

    fn detail(&self) -> &str {
        &self.detail
    }
}

/// The plan, one line per object: `+ create`, `~ update`, `= unchanged`.
impl Text for Plan {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let clusters: Vec<String> = self.clusters.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "Plan for {} (identity: {}):",
            clusters.join(", "),
            self.identity
        )?;
        write_plan_lines(out, &self.actions)?;
        write_notes(out, &self.notes)
    }
}

/// The closing lines after a run (the plan was shown before): what was written, and what the
/// user must still do.
impl Text for AddReport<'_> {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let count = |change: Change| {
            self.plan
                .actions
                .iter()
                .filter(|a| a.change == change)
                .count()
        };
        let secrets: Vec<String> = self
            .plan
            .actions
            .iter()
            .filter_map(|a| match &a.step {
                Step::ApplySecret { secret } => {
                    Some(format!("{}/{}", secret.namespace, secret.name))
                }
                _ => None,
            })
            .collect();
        let summary = change_summary(
            count(Change::Create),
            count(Change::Update),
            count(Change::Unchanged),
        );
        match self.outcome {
            Outcome::Unchanged => writeln!(
                out,
                "Nothing to change: already registered as Secret {}.",
                secrets.join(", ")
            ),
            Outcome::Applied => writeln!(
                out,
                "Registered as Secret {}: {summary}.",
                secrets.join(", ")
            ),
            Outcome::DryRunServer => writeln!(
                out,
                "Dry run (server): the API server accepted the Kubernetes writes; AWS writes were not sent; nothing was changed ({summary})."
            ),
            Outcome::DryRun | Outcome::DryRunClient => {
                writeln!(out, "Dry run: nothing was changed ({summary}).")
            }
        }?;
        if !self.restarted.is_empty() {
            writeln!(out, "Restarted {}.", self.restarted.join(", "))?;
        }
        if self.restart_needed {
            writeln!(
                out,
                "Argo CD's pods pick up the new identity only when restarted (or pass --restart):\n  {}",
                self.restart_command
            )?;
        }
        Ok(())
    }
}
