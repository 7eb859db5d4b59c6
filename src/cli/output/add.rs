//! What `add` reports: its plan, one line per object, and the outcome.

use std::io::{self, Write};

use serde::Serialize;

use super::doctor::findings_text;
use super::next_steps::{RESTART_NEEDED, write_next_steps};
use super::{
    Outcome, PlanLine, Text, change_summary, write_notes, write_plan_lines, write_stopped,
};
use crate::core::action::{Action, Change, Step};
use crate::core::checks::{Finding, Status};
use crate::core::plan::Plan;
use crate::core::progress::Progress;
use crate::error::exit::WOULD_NOT_WORK;

/// What `add` reports: the plan, and whether (and how) it was applied.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddReport<'a> {
    pub(crate) plan: &'a Plan,
    /// `applied`, `unchanged`, `dry-run-client`, `dry-run-server`, `refused`.
    pub(crate) outcome: Outcome,
    /// doctor's checks of the identity, run before writing on the hub as the plan leaves it
    /// (none when there is nothing to write).
    pub(crate) checks: &'a [Finding],
    /// Written although a check failed (`--force`).
    pub(crate) forced: bool,
    /// After a successful run: the doctor command that checks the new registrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) doctor_command: Option<String>,
    /// Identity changed and the pods were not restarted by this run.
    pub(crate) restart_needed: bool,
    pub(crate) restart_command: String,
    /// Workloads restarted by `--restart`.
    pub(crate) restarted: Vec<String>,
    /// Each write made (or tried) and what became of it: `done`, `already-done` (made by
    /// someone else meanwhile, as this run wanted it), `failed`, `not-done`.
    pub(crate) steps: Progress,
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

/// How many checks failed.
pub(crate) fn failed(checks: &[Finding]) -> usize {
    checks.iter().filter(|c| c.status == Status::Fail).count()
}

/// doctor's checks before writing, shown after the plan: the count of each outcome, then
/// each failure with its fix and each check that cannot tell.
pub(crate) struct Checks<'a>(pub(crate) &'a [Finding]);

impl Text for Checks<'_> {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let count = |status: Status| self.0.iter().filter(|c| c.status == status).count();
        writeln!(
            out,
            "Checks before writing (doctor's, on the hub as this plan leaves it): {} ok, {} failed, {} cannot tell",
            count(Status::Pass),
            count(Status::Fail),
            count(Status::CannotTell)
        )?;
        out.write_all(findings_text(self.0.iter().filter(|c| c.status != Status::Pass)).as_bytes())
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
            // The error that follows says why; the checks were shown above.
            Outcome::Refused => return Ok(()),
            // The error that follows is the failed write's.
            Outcome::Failed => return write_stopped(out, &self.steps),
        }?;
        let by_others: Vec<String> = self
            .steps
            .already_done()
            .map(|s| s.subject.clone())
            .collect();
        if !by_others.is_empty() {
            writeln!(
                out,
                "Already done by someone else meanwhile (read back as this run wanted it): {}.",
                by_others.join(", ")
            )?;
        }
        let redone: Vec<String> = self.steps.redone().map(|s| s.subject.clone()).collect();
        if !redone.is_empty() {
            writeln!(
                out,
                "Made again, as someone else removed them after this run planned: {}.",
                redone.join(", ")
            )?;
        }
        let failed = failed(self.checks);
        if failed > 0 && self.forced && self.outcome == Outcome::Applied {
            writeln!(
                out,
                "Written with --force although {failed} check(s) failed: Argo CD cannot use it until their fixes above are applied."
            )?;
        } else if failed > 0 && !self.forced && self.outcome != Outcome::Applied {
            writeln!(
                out,
                "Without --dry-run this would be refused (exit code {WOULD_NOT_WORK}): {failed} check(s) failed; apply their fixes above, or pass --force to write it anyway."
            )?;
        }
        if !self.restarted.is_empty() {
            writeln!(out, "Restarted {}.", self.restarted.join(", "))?;
        }
        let restart = self.restart_needed.then_some(self.restart_command.as_str());
        match &self.doctor_command {
            Some(doctor) => write_next_steps(out, self.plan, doctor, restart)?,
            None => {
                if let Some(restart) = restart {
                    writeln!(out, "{RESTART_NEEDED}\n  {restart}")?;
                }
            }
        }
        Ok(())
    }
}
