//! What `doctor` reports: a checklist per link of the chain, each failure with its fix.

use std::io::{self, Write};

use serde::Serialize;

use super::Text;
use crate::core::checks::{Section, Status};

/// Every section doctor checked; as a document, the list of sections.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct DoctorReport {
    pub(crate) sections: Vec<Section>,
}

impl DoctorReport {
    /// How many checks failed.
    pub(crate) fn problems(&self) -> usize {
        self.sections
            .iter()
            .flat_map(|s| &s.findings)
            .filter(|f| f.status == Status::Fail)
            .count()
    }
}

impl Text for DoctorReport {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        for section in &self.sections {
            text.push_str(&format!("{}\n", section.title));
            for finding in &section.findings {
                let mark = match finding.status {
                    Status::Pass => "ok  ",
                    Status::Fail => "FAIL",
                    Status::CannotTell => "??  ",
                };
                text.push_str(&format!("  {mark} {}: {}\n", finding.check, finding.detail));
                if let Some(fix) = &finding.fix {
                    text.push_str(&format!("       fix: {fix}\n"));
                }
            }
            text.push('\n');
        }
        out.write_all(text.as_bytes())
    }
}
