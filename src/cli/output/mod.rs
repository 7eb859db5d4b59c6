//! Plans and results as text for people, or YAML / JSON for machines: one file per command's
//! report, and here what they share.

pub mod add;
pub mod doctor;
pub mod list;
pub mod policy;
pub mod remove;

use std::io::Write;

use serde::Serialize;

use super::args::OutputFormat;
use crate::error::{Error, Result};

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

/// An output error (a closed pipe, a value serde cannot write) as the tool's error.
pub fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Output(e.to_string())
}

/// `value` as YAML for `-o yaml`, else as pretty JSON.
pub fn write_serialized<T: Serialize>(
    out: &mut dyn Write,
    format: OutputFormat,
    value: &T,
) -> Result<()> {
    match format {
        OutputFormat::Yaml => {
            let text = serde_saphyr::to_string(value).map_err(write_err)?;
            out.write_all(text.as_bytes()).map_err(write_err)
        }
        OutputFormat::Json | OutputFormat::Text => {
            serde_json::to_writer_pretty(&mut *out, value).map_err(write_err)?;
            writeln!(out).map_err(write_err)
        }
    }
}

/// One line of a plan: `  + create    <subject>  (<detail>)`.
pub fn write_step(
    out: &mut dyn Write,
    marker: &str,
    change: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    writeln!(out, "  {marker} {change:<9} {subject}  ({detail})").map_err(write_err)
}

/// `note: ...`, one line each.
pub fn write_notes(out: &mut dyn Write, notes: &[String]) -> Result<()> {
    for note in notes {
        writeln!(out, "note: {note}").map_err(write_err)?;
    }
    Ok(())
}

/// `N created, N updated, N unchanged`.
pub fn change_summary(created: usize, updated: usize, unchanged: usize) -> String {
    format!("{created} created, {updated} updated, {unchanged} unchanged")
}
