//! Results as text for people, or YAML / JSON for machines: one file per command's report, and
//! here what they share: `emit`, the outcomes, the plan-line renderer and the spinner.

pub(crate) mod add;
pub(crate) mod doctor;
pub(crate) mod list;
pub(crate) mod manifests;
pub(crate) mod next_steps;
pub(crate) mod permissions;
pub(crate) mod policy;
pub(crate) mod remove;

use std::io::{self, Write};

use serde::Serialize;

use super::args::OutputFormat;
use crate::core::progress::{Progress, StepStatus};
use crate::error::Result;

/// Something shown to people as text.
pub(crate) trait Text {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// What a command reports: one value that is a document for machines and text for people.
/// A command that shows its plan before asking ([`show`]) has the rest of its text here.
pub(crate) trait Report: Text + Serialize {}

impl<T: Text + Serialize> Report for T {}

/// Write `report` in `format`: the one way every command ends.
pub(crate) fn emit<R: Report>(out: &mut dyn Write, format: OutputFormat, report: &R) -> Result<()> {
    match format.for_report() {
        OutputFormat::Text => report.write_text(out)?,
        _ => write_document(out, format, report)?,
    }
    out.flush()?;
    Ok(())
}

/// One YAML or JSON document (text is not a document: it writes nothing).
pub(crate) fn write_document<T: Serialize>(
    out: &mut dyn Write,
    format: OutputFormat,
    document: &T,
) -> io::Result<()> {
    match format.for_report() {
        OutputFormat::Yaml => {
            let text = serde_saphyr::to_string(document).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())
        }
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, document).map_err(io::Error::from)?;
            writeln!(out)
        }
        _ => Ok(()),
    }
}

/// Text shown as the command goes (its plan, before the question); a document is written
/// once and whole by [`emit`], so nothing is shown for one.
pub(crate) fn show<T: Text>(out: &mut dyn Write, format: OutputFormat, part: &T) -> Result<()> {
    if format == OutputFormat::Text {
        part.write_text(out)?;
    }
    Ok(())
}

/// How a command that writes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// Written and read back.
    Applied,
    /// There was nothing to write.
    Unchanged,
    /// `--dry-run` (the command has no server-side dry run).
    DryRun,
    /// `--dry-run=client`: nothing was sent.
    DryRunClient,
    /// `--dry-run=server`: the API server validated the Kubernetes writes.
    DryRunServer,
    /// Not written: a check before writing failed (and no `--force`).
    Refused,
    /// Stopped part way: a write failed; `steps` says what was done and what was not.
    Failed,
}

/// One line of a plan, as `add`, `remove` and `policy` show them.
pub(crate) trait PlanLine {
    /// The width of the change word column (the longest word the plan can use).
    const WIDTH: usize;
    /// `+`, `~`, `=`, `-`, `!`.
    fn marker(&self) -> &'static str;
    /// `create`, `update`, `unchanged`, `delete`, `keep`, `by hand`.
    fn word(&self) -> &'static str;
    fn subject(&self) -> String;
    fn detail(&self) -> &str;
}

/// The plan, one line per object: `  + create    <subject>  (<detail>)`.
pub(crate) fn write_plan_lines<L: PlanLine>(out: &mut dyn Write, lines: &[L]) -> io::Result<()> {
    for line in lines {
        writeln!(
            out,
            "  {} {:<width$} {}  ({})",
            line.marker(),
            line.word(),
            line.subject(),
            line.detail(),
            width = L::WIDTH
        )?;
    }
    Ok(())
}

/// `note: ...`, one line each.
pub(crate) fn write_notes(out: &mut dyn Write, notes: &[String]) -> io::Result<()> {
    for note in notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

/// The closing lines of a run that stopped part way: each write with what became of it, and
/// that running the same command again finishes the job.
pub(crate) fn write_stopped(out: &mut dyn Write, progress: &Progress) -> io::Result<()> {
    let failed = progress.count(StepStatus::Failed);
    let not_done = progress.count(StepStatus::NotDone);
    let done = progress.steps.len() - failed - not_done;
    writeln!(
        out,
        "Stopped part way: {done} write(s) done, {failed} failed, {not_done} not done:"
    )?;
    write_steps(out, progress)?;
    writeln!(
        out,
        "What was done stays. Run the same command again to finish: it plans from what is there now and makes only the writes not done."
    )
}

/// Each step of `progress`, one a line: `  done          Secret argocd/x`.
pub(crate) fn write_steps(out: &mut dyn Write, progress: &Progress) -> io::Result<()> {
    for step in &progress.steps {
        let detail = step
            .detail
            .as_deref()
            .map(|d| format!("  ({d})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<12} {} {}{detail}",
            step.status.word(),
            step.change,
            step.subject
        )?;
    }
    Ok(())
}

/// `N created, N updated, N unchanged`.
pub(crate) fn change_summary(created: usize, updated: usize, unchanged: usize) -> String {
    format!("{created} created, {updated} updated, {unchanged} unchanged")
}

/// The kubectl command that restarts Argo CD's workloads in `namespace`.
pub(crate) fn restart_command(namespace: &str) -> String {
    format!(
        "kubectl -n {namespace} rollout restart statefulset/argocd-application-controller deployment/argocd-server deployment/argocd-applicationset-controller"
    )
}

/// A spinner on stderr while something slow runs; silent when stderr is not a terminal.
pub(crate) struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    pub(crate) fn start(message: &str) -> Self {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Spinner(Some(bar))
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Line(&'static str);

    impl PlanLine for Line {
        const WIDTH: usize = 6;
        fn marker(&self) -> &'static str {
            "-"
        }
        fn word(&self) -> &'static str {
            self.0
        }
        fn subject(&self) -> String {
            "Secret argocd/x".into()
        }
        fn detail(&self) -> &str {
            "why"
        }
    }

    #[derive(Serialize)]
    struct Shown {
        n: u8,
    }

    impl Text for Shown {
        fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
            writeln!(out, "n is {}", self.n)
        }
    }

    fn emitted(format: OutputFormat) -> String {
        let mut out = Vec::new();
        emit(&mut out, format, &Shown { n: 3 }).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plan_lines_pad_the_word_to_the_plans_width() {
        let mut out = Vec::new();
        write_plan_lines(&mut out, &[Line("delete"), Line("keep")]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  - delete Secret argocd/x  (why)\n  - keep   Secret argocd/x  (why)\n"
        );
    }

    #[test]
    fn one_report_is_text_yaml_or_json_and_show_is_text_only() {
        assert_eq!(emitted(OutputFormat::Text), "n is 3\n");
        assert_eq!(emitted(OutputFormat::Json), "{\n  \"n\": 3\n}\n");
        let yaml: serde_json::Value = serde_saphyr::from_str(&emitted(OutputFormat::Yaml)).unwrap();
        assert_eq!(yaml, serde_json::json!({"n": 3}));
        let mut out = Vec::new();
        show(&mut out, OutputFormat::Json, &Shown { n: 1 }).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn outcomes_serialize_as_the_words_scripts_read() {
        let words: Vec<String> = [
            Outcome::Applied,
            Outcome::Unchanged,
            Outcome::DryRun,
            Outcome::DryRunClient,
            Outcome::DryRunServer,
            Outcome::Refused,
            Outcome::Failed,
        ]
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
        assert_eq!(
            words,
            [
                "\"applied\"",
                "\"unchanged\"",
                "\"dry-run\"",
                "\"dry-run-client\"",
                "\"dry-run-server\"",
                "\"refused\"",
                "\"failed\""
            ]
        );
    }
}
