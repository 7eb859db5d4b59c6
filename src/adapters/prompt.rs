//! Asking the user: dialoguer on a terminal, or a refusal that names the flag when there is none.

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, FuzzySelect, Input, MultiSelect};

use super::interrupt;
use crate::error::{Error, Result};
use crate::ports::Prompt;

/// Prompts on stderr, so stdout stays clean for output.
pub(crate) struct TerminalPrompt {
    theme: Box<dyn Theme>,
}

impl TerminalPrompt {
    /// Without colour, the plain theme marks the cursor with `>` and picks with `[x]`.
    /// Ctrl-C at a prompt would leave the terminal's cursor hidden: the handler
    /// (adapters/interrupt.rs) shows it again and exits 130.
    pub(crate) fn new(color: bool) -> Self {
        interrupt::install();
        let theme: Box<dyn Theme> = if color {
            Box::new(ColorfulTheme::default())
        } else {
            Box::new(SimpleTheme)
        };
        TerminalPrompt { theme }
    }
}

fn prompt_error(error: dialoguer::Error) -> Error {
    match error {
        // Ctrl-C interrupts the read before the handler exits: the same cancellation.
        dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            let _ = console::Term::stderr().show_cursor();
            Error::Cancelled
        }
        error => Error::Prompt(error),
    }
}

impl Prompt for TerminalPrompt {
    fn confirm(&self, question: &str) -> Result<bool> {
        Confirm::with_theme(self.theme.as_ref())
            .with_prompt(question)
            .default(false)
            .interact_opt()
            .map_err(prompt_error)?
            .ok_or(Error::Cancelled)
    }

    fn pick_many(&self, question: &str, _flag: &str, items: &[String]) -> Result<Vec<usize>> {
        MultiSelect::with_theme(self.theme.as_ref())
            .with_prompt(format!("{question} (space to pick, enter to accept)"))
            .items(items)
            .interact_opt()
            .map_err(prompt_error)?
            .ok_or(Error::Cancelled)
    }

    fn pick_one(
        &self,
        question: &str,
        _flag: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize> {
        FuzzySelect::with_theme(self.theme.as_ref())
            .with_prompt(question)
            .items(items)
            .default(default)
            .interact_opt()
            .map_err(prompt_error)?
            .ok_or(Error::Cancelled)
    }

    fn text(
        &self,
        question: &str,
        _flag: &str,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String> {
        let mut input = Input::<String>::with_theme(self.theme.as_ref())
            .with_prompt(question)
            .allow_empty(true)
            .validate_with(|answer: &String| validate(answer));
        if let Some(default) = default {
            input = input.default(default.to_owned());
        }
        input.interact_text().map_err(prompt_error)
    }

    fn writes_begin(&self) {
        interrupt::writes_begin();
    }

    fn interrupted(&self) -> bool {
        interrupt::interrupted()
    }
}

/// For scripts and CI: never asks; a needed answer is a usage error naming the flag.
pub(crate) struct NoPrompt;

fn needs_flag(flag: &str) -> Error {
    Error::usage(format!(
        "{flag} is needed and there is no terminal to ask on (or --no-interactive was given); pass {flag}"
    ))
}

impl Prompt for NoPrompt {
    fn confirm(&self, _question: &str) -> Result<bool> {
        Err(Error::usage(
            "this would change things and there is no terminal to confirm on: pass --yes to apply, or --dry-run to only see the plan",
        ))
    }

    fn pick_many(&self, _question: &str, flag: &str, _items: &[String]) -> Result<Vec<usize>> {
        Err(needs_flag(flag))
    }

    fn pick_one(&self, _q: &str, flag: &str, _items: &[String], _default: usize) -> Result<usize> {
        Err(needs_flag(flag))
    }

    fn text(
        &self,
        _question: &str,
        flag: &str,
        _default: Option<&str>,
        _validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String> {
        Err(needs_flag(flag))
    }

    fn writes_begin(&self) {
        interrupt::writes_begin();
    }

    fn interrupted(&self) -> bool {
        interrupt::interrupted()
    }
}
