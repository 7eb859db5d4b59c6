//! What became of each write of a plan as it was applied: done, found already done by someone
//! else, failed, or not done; what `add` and `remove` report when they stop part way.

use serde::Serialize;

/// What became of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum StepStatus {
    /// This run made the write.
    Done,
    /// The write was refused as already made (ResourceInUse, 409), and reading it back found
    /// exactly what this run wanted: someone else (another run) made it meanwhile.
    AlreadyDone,
    /// The write failed; its error is the run's error.
    Failed,
    /// Not tried: the run stopped before it.
    NotDone,
}

impl StepStatus {
    /// The word shown before the step in text: `done`, `already done`, `failed`, `not done`.
    pub(crate) fn word(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::AlreadyDone => "already done",
            StepStatus::Failed => "failed",
            StepStatus::NotDone => "not done",
        }
    }

    /// Whether the object is as the plan wants it after the run.
    pub(crate) fn is_in_place(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::AlreadyDone)
    }
}

/// One write of the plan (or the restart after it) and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StepRecord {
    /// The object written, as the plan names it (`Secret argocd/eks-...`).
    pub(crate) subject: String,
    /// What the write was: `create`, `update`, `delete`, `restart`.
    pub(crate) change: String,
    pub(crate) status: StepStatus,
    /// Why it failed, or who did it instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    /// Made a second time in this run: after the first round of writes, reading back found it
    /// changed or removed by someone else (a `remove` at the same time).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) redone: bool,
}

/// The writes of one run, in the plan's order, each with what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Progress {
    pub(crate) steps: Vec<StepRecord>,
}

impl Progress {
    /// Every write `not done` yet: `(subject, change)` in the plan's order.
    pub(crate) fn planned(writes: impl IntoIterator<Item = (String, String)>) -> Self {
        Progress {
            steps: writes
                .into_iter()
                .map(|(subject, change)| StepRecord {
                    subject,
                    change,
                    status: StepStatus::NotDone,
                    detail: None,
                    redone: false,
                })
                .collect(),
        }
    }

    /// Record what became of write `index`.
    pub(crate) fn mark(&mut self, index: usize, status: StepStatus, detail: Option<String>) {
        if let Some(step) = self.steps.get_mut(index) {
            step.status = status;
            step.detail = detail;
        }
    }

    /// Add a step after the plan's writes (the restart) with what became of it.
    pub(crate) fn push(&mut self, subject: String, change: &str, status: StepStatus) {
        self.steps.push(StepRecord {
            subject,
            change: change.to_owned(),
            status,
            detail: None,
            redone: false,
        });
    }

    pub(crate) fn count(&self, status: StepStatus) -> usize {
        self.steps.iter().filter(|s| s.status == status).count()
    }

    pub(crate) fn already_done(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps
            .iter()
            .filter(|s| s.status == StepStatus::AlreadyDone)
    }

    /// The writes made a second time (see [`StepRecord::redone`]).
    pub(crate) fn redone(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps
            .iter()
            .filter(|s| s.redone && s.status == StepStatus::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_stopped_counts_what_was_done_and_not() {
        let mut progress = Progress::planned([
            ("PodIdentityAssociation a".into(), "create".into()),
            ("AccessEntry b".into(), "create".into()),
            ("Secret c".into(), "create".into()),
        ]);
        progress.mark(0, StepStatus::AlreadyDone, Some("by someone else".into()));
        progress.mark(1, StepStatus::Failed, Some("boom".into()));
        assert_eq!(progress.count(StepStatus::NotDone), 1);
        assert_eq!(progress.already_done().count(), 1);
        let json = serde_json::to_value(&progress).unwrap();
        assert_eq!(json[1]["status"], "failed");
        assert_eq!(json[2]["status"], "not-done");
        assert_eq!(json[0]["status"], "already-done");
        assert!(json[2].get("detail").is_none());
        progress.mark(1, StepStatus::Done, None);
        progress.mark(2, StepStatus::Done, None);
        assert!(progress.steps.iter().all(|s| s.status.is_in_place()));
    }
}
