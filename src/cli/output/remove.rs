//! What `remove` reports: its plan, one line per object, and the outcome.

use std::io::{self, Write};

use serde::Serialize;

use super::{
    Outcome, PlanLine, Text, restart_command, write_notes, write_plan_lines, write_stopped,
};
use crate::core::progress::Progress;
use crate::core::removal::{Removal, RemovalAction, RemovalPlan};

/// What `remove` reports: the plan, and whether (and how) it was applied.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemoveReport<'a> {
    pub(crate) plan: &'a RemovalPlan,
    /// `applied`, `dry-run-client`, `dry-run-server`, `failed`.
    pub(crate) outcome: Outcome,
    /// Each delete made (or tried) and what became of it: `done`, `already-done` (gone
    /// already: someone else deleted it meanwhile), `failed`, `not-done`.
    pub(crate) steps: Progress,
}

impl PlanLine for RemovalAction {
    const WIDTH: usize = 6;

    fn marker(&self) -> &'static str {
        match self.change {
            Removal::Delete => "-",
            Removal::Keep => "=",
        }
    }

    fn word(&self) -> &'static str {
        match self.change {
            Removal::Delete => "delete",
            Removal::Keep => "keep",
        }
    }

    fn subject(&self) -> String {
        self.step.subject()
    }

    fn detail(&self) -> &str {
        &self.detail
    }
}

/// The plan, one line per object: `- delete`, `= keep` with the reason.
impl Text for RemovalPlan {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Plan to remove {} from Argo CD (namespace {}):",
            self.secrets.join(", "),
            self.namespace
        )?;
        write_plan_lines(out, &self.actions)?;
        write_notes(out, &self.notes)
    }
}

impl Text for RemoveReport<'_> {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let plan = self.plan;
        let deletes = plan.deletes().count();
        let kept = plan.actions.len() - deletes;
        match self.outcome {
            Outcome::Applied | Outcome::Unchanged => {
                writeln!(out, "Removed: {deletes} deleted, {kept} kept.")
            }
            Outcome::DryRunServer => writeln!(
                out,
                "Dry run (server): the API server accepted the Kubernetes writes; AWS writes were not sent; nothing was changed ({deletes} to delete, {kept} kept)."
            ),
            Outcome::DryRun | Outcome::DryRunClient => writeln!(
                out,
                "Dry run: nothing was changed ({deletes} to delete, {kept} kept)."
            ),
            // remove refuses nothing by checks.
            Outcome::Refused => Ok(()),
            Outcome::Failed => write_stopped(out, &self.steps),
        }?;
        let gone: Vec<String> = self
            .steps
            .already_done()
            .map(|s| s.subject.clone())
            .collect();
        if !gone.is_empty() {
            writeln!(
                out,
                "Already gone (someone else deleted it meanwhile): {}.",
                gone.join(", ")
            )?;
        }
        let identity_went = plan
            .deletes()
            .zip(&self.steps.steps)
            .any(|(a, s)| a.step.changes_identity() && s.status.is_in_place());
        if matches!(self.outcome, Outcome::Applied | Outcome::Failed) && identity_went {
            writeln!(
                out,
                "Argo CD's running pods keep their AWS credentials until they restart:\n  {}",
                restart_command(&plan.namespace)
            )?;
        }
        Ok(())
    }
}
