//! Asking the user: inquire on a terminal, or a refusal that names the flag when there is none.
//!
//! Why inquire and not dialoguer (0.12): dialoguer's `MultiSelect` cannot filter (only its
//! single-choice `FuzzySelect` can), its `Input` clears a refused answer instead of keeping it
//! for editing, and Esc is ignored by `Input`, so no question could go back. inquire's
//! `MultiSelect` filters as one types and keeps what was picked while the filter changes, its
//! `Text` shows a validator's refusal under the answer and keeps the text, and every prompt
//! returns "skipped" on Esc, which this tool reads as "back one question". It runs here on its
//! console backend (the `console` crate this tool already has), not crossterm. Its options are
//! fixed once a prompt is drawn, so the cluster picker, whose rows are filled in while it is
//! open, is this tool's own (adapters/live_prompt.rs), with the same keys and look.

use std::fmt;

use inquire::error::InquireError;
use inquire::ui::{RenderConfig, Styled};
use inquire::validator::Validation;
use inquire::{Confirm, Select, Text};

use super::interrupt;
use crate::cli::picker::cut;
use crate::error::{Error, Result};
use crate::ports::{LiveRows, Prompt, Reply};

/// Prompts on stderr, so stdout stays clean for output.
pub(crate) struct TerminalPrompt {
    color: bool,
}

impl TerminalPrompt {
    /// Ctrl-C outside a prompt (during discovery, say) is the handler's (adapters/interrupt.rs:
    /// cursor shown, exit 130); at a prompt the key reaches the prompt as an interruption.
    pub(crate) fn new(color: bool) -> Self {
        interrupt::install();
        TerminalPrompt { color }
    }

    /// `✔` marks an answered question, as before; Esc shows `<back>`.
    fn render(&self) -> RenderConfig<'static> {
        let base = if self.color {
            RenderConfig::default_colored()
        } else {
            RenderConfig::empty()
        };
        base.with_answered_prompt_prefix(Styled::new("\u{2714}"))
            .with_canceled_prompt_indicator(Styled::new("<back>"))
    }
}

/// The terminal's (rows, columns).
pub(crate) fn terminal_size() -> (usize, usize) {
    let (rows, cols) = console::Term::stderr().size();
    (usize::from(rows), usize::from(cols))
}

/// Rows a list may take: the terminal's height less the lines around it (question, header,
/// help, and one spare so nothing scrolls).
pub(crate) fn page_size(rows: usize) -> usize {
    let (height, _) = terminal_size();
    height.saturating_sub(5).clamp(3, rows.max(3))
}

/// Every word typed must be in the row's text (any case); rows keep their order. Words are
/// apart by spaces or commas (in a multi-select, space picks a row, so a comma is the way).
pub(crate) fn matches(typed: &str, text: &str) -> bool {
    let text = text.to_lowercase();
    typed
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty())
        .all(|word| text.contains(word))
}

fn prompt_error(error: InquireError) -> Error {
    match error {
        // Ctrl-C at a prompt: the console backend reads it as an interrupted read.
        InquireError::OperationInterrupted => interrupted(),
        InquireError::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => interrupted(),
        error => Error::Prompt(error),
    }
}

fn interrupted() -> Error {
    let _ = console::Term::stderr().show_cursor();
    Error::Cancelled
}

fn reply<T>(answer: Option<T>) -> Reply<T> {
    answer.map_or(Reply::Back, Reply::Answer)
}

/// A row of a list, remembering where it was in the list; shown cut to the terminal's width
/// (a wrapped row would leave its second line behind when the list is drawn again).
#[derive(Clone)]
struct Row<'a> {
    index: usize,
    text: &'a str,
    shown: String,
}

impl fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Columns a row may take after the cursor (and checkbox) before it.
fn rows(items: &[String], prefix: usize) -> Vec<Row<'_>> {
    let (_, width) = terminal_size();
    let room = width.saturating_sub(prefix + 1);
    items
        .iter()
        .enumerate()
        .map(|(index, text)| Row {
            index,
            text,
            shown: cut(text, room),
        })
        .collect()
}

/// An answer as printed after `question`, cut to stay on one line.
fn answer_line(question: &str, answer: &str) -> String {
    let (_, width) = terminal_size();
    cut(answer, width.saturating_sub(question.chars().count() + 3))
}

/// Order kept: a later row scores lower.
fn score(index: usize) -> i64 {
    -i64::try_from(index).unwrap_or(i64::MAX)
}

impl Prompt for TerminalPrompt {
    fn confirm(&self, question: &str) -> Result<bool> {
        Confirm::new(question)
            .with_default(false)
            .with_render_config(self.render())
            .prompt_skippable()
            .map_err(prompt_error)?
            .ok_or(Error::Cancelled)
    }

    async fn pick_many_live(
        &self,
        question: &str,
        flag: &str,
        rows: &impl LiveRows,
    ) -> Result<Reply<Vec<usize>>> {
        if !console::Term::stderr().is_term() {
            return Err(needs_flag(flag));
        }
        super::live_prompt::pick_live(question, rows, self.color).await
    }

    fn pick_one(
        &self,
        question: &str,
        _flag: &str,
        items: &[String],
        default: usize,
    ) -> Result<Reply<usize>> {
        let scorer = |typed: &str, row: &Row<'_>, _: &str, _: usize| {
            matches(typed, row.text).then(|| score(row.index))
        };
        let formatter = |picked: inquire::list_option::ListOption<&Row<'_>>| {
            answer_line(question, picked.value.text)
        };
        let picked = Select::new(question, rows(items, 2))
            .with_scorer(&scorer)
            .with_formatter(&formatter)
            .with_starting_cursor(default.min(items.len().saturating_sub(1)))
            .with_page_size(page_size(items.len()))
            .with_help_message("\u{2191}\u{2193} move, type to filter, enter to accept, esc back")
            .with_render_config(self.render())
            .prompt_skippable()
            .map_err(prompt_error)?;
        Ok(reply(picked.map(|row| row.index)))
    }

    fn text(
        &self,
        question: &str,
        _flag: &str,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<Reply<String>> {
        // A refused answer stays on the line for editing, the reason under it.
        let validator = move |answer: &str| {
            let answer = if answer.is_empty() {
                default.unwrap_or_default()
            } else {
                answer
            };
            Ok(match validate(answer) {
                Ok(()) => Validation::Valid,
                Err(reason) => Validation::Invalid(reason.into()),
            })
        };
        let mut input = Text::new(question)
            .with_validator(validator)
            .with_help_message("enter to accept, esc back")
            .with_render_config(self.render());
        if let Some(default) = default {
            input = input.with_default(default);
        }
        Ok(reply(input.prompt_skippable().map_err(prompt_error)?))
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

pub(crate) fn needs_flag(flag: &str) -> Error {
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

    async fn pick_many_live(
        &self,
        _question: &str,
        flag: &str,
        _rows: &impl LiveRows,
    ) -> Result<Reply<Vec<usize>>> {
        Err(needs_flag(flag))
    }

    fn pick_one(
        &self,
        _q: &str,
        flag: &str,
        _items: &[String],
        _default: usize,
    ) -> Result<Reply<usize>> {
        Err(needs_flag(flag))
    }

    fn text(
        &self,
        _question: &str,
        flag: &str,
        _default: Option<&str>,
        _validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<Reply<String>> {
        Err(needs_flag(flag))
    }

    fn writes_begin(&self) {
        interrupt::writes_begin();
    }

    fn interrupted(&self) -> bool {
        interrupt::interrupted()
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn every_word_typed_must_be_in_the_row() {
        let row = "prod-eu-0421 eu-west-1 123456789012 1.35 ACTIVE team=payments";
        assert!(matches("", row));
        assert!(matches("0421", row));
        assert!(matches("EU 0421 payments", row));
        assert!(matches("0421,team=payments", row));
        assert!(!matches("0421,team=billing", row));
        assert!(matches("123456789012", row));
        assert!(!matches("0421 us-east", row));
    }
}
