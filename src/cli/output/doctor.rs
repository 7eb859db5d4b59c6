//! What `doctor` reports: a checklist per link of the chain, each failure with its fix.

use crate::core::checks::{Section, Status};
use crate::error::{Error, Result};

pub fn write_text(out: &mut dyn std::io::Write, sections: &[Section]) -> Result<()> {
    let mut text = String::new();
    for section in sections {
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
        .map_err(|e| Error::Output(e.to_string()))
}
