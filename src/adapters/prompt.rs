//! Asking the user: dialoguer on a terminal, or a refusal that names the flag when there is none.

use dialoguer::Confirm;
use dialoguer::theme::ColorfulTheme;

use crate::error::{Error, Result};
use crate::ports::Prompt;

/// Prompts on stderr, so stdout stays clean for output.
pub struct TerminalPrompt;

impl Prompt for TerminalPrompt {
    fn confirm(&self, question: &str) -> Result<bool> {
        Confirm::with_theme(&ColorfulTheme::default())
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|e| Error::Prompt(e.to_string()))
    }
}

/// For scripts and CI: never asks; a needed answer is a usage error naming the flag.
pub struct NoPrompt;

impl Prompt for NoPrompt {
    fn confirm(&self, _question: &str) -> Result<bool> {
        Err(Error::usage(
            "this would change things and there is no terminal to confirm on: pass --yes to apply, or --dry-run to only see the plan",
        ))
    }
}
