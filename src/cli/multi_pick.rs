//! The cluster picker's multi-select as plain state: a key changes it, it gives the lines to
//! draw (inquire's MultiSelect look: `? question filter`, `> [x] row`, `[help]`), and its rows
//! may be replaced while it is open; the terminal loop (adapters/live_prompt.rs) only reads
//! keys and writes lines.

use std::collections::BTreeSet;

use console::{Key, Style};

use crate::adapters::prompt::matches;
use crate::cli::picker::{ROW_PREFIX, cut};
use crate::ports::PickList;

/// The help line, as inquire's picker had it.
pub(crate) const HELP: &str =
    "type to filter, space pick, \u{2192} all, \u{2190} none, enter accept, esc back";

/// What a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Still open (drawn again).
    Open,
    /// Enter: these rows (indices into the list, in order; maybe none).
    Accept(Vec<usize>),
    /// Esc.
    Back,
    /// Ctrl-C.
    Cancel,
}

/// What to draw: the lines, and the column of the cursor on the question line (line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) lines: Vec<String>,
    pub(crate) column: usize,
}

/// The picker's state.
#[derive(Debug)]
pub(crate) struct MultiPick {
    list: PickList,
    filter: String,
    /// The rows the filter lets through, in order.
    shown: Vec<usize>,
    /// Index into `shown`.
    cursor: usize,
    checked: BTreeSet<usize>,
    page: usize,
    color: bool,
}

impl MultiPick {
    /// `page`: how many rows a screen shows.
    pub(crate) fn new(list: PickList, page: usize, color: bool) -> Self {
        let checked = list.picked.iter().copied().collect();
        let mut pick = MultiPick {
            list,
            filter: String::new(),
            shown: Vec::new(),
            cursor: 0,
            checked,
            page: page.max(1),
            color,
        };
        pick.update_checked();
        pick.refilter(false);
        pick
    }

    /// The rows as they stand now (same number, same order): what was typed and picked stays,
    /// the cursor stays on its row while the filter still shows it.
    pub(crate) fn update(&mut self, list: PickList) {
        let at = self.shown.get(self.cursor).copied();
        self.list = list;
        self.update_checked();
        self.refilter(false);
        if let Some(at) = at.and_then(|at| self.shown.iter().position(|i| *i == at)) {
            self.cursor = at;
        }
    }

    fn update_checked(&mut self) {
        let rows = self.list.rows.len();
        let locked = &self.list.locked;
        self.checked.retain(|i| *i < rows && !locked.contains(i));
    }

    fn text(&self, index: usize) -> &str {
        self.list
            .search
            .get(index)
            .or_else(|| self.list.rows.get(index))
            .map_or("", String::as_str)
    }

    /// The rows the filter lets through; `reset`: the cursor goes to the top when they change
    /// (as inquire does after typing).
    fn refilter(&mut self, reset: bool) {
        let shown: Vec<usize> = (0..self.list.rows.len())
            .filter(|i| matches(&self.filter, self.text(*i)))
            .collect();
        if shown != self.shown {
            self.shown = shown;
            if reset {
                self.cursor = 0;
            }
        }
        self.cursor = self.cursor.min(self.shown.len().saturating_sub(1));
    }

    /// The state after `key`.
    pub(crate) fn key(&mut self, key: &Key) -> Outcome {
        let last = self.shown.len().saturating_sub(1);
        match key {
            Key::Enter => return Outcome::Accept(self.checked.iter().copied().collect()),
            Key::Escape => return Outcome::Back,
            Key::CtrlC => return Outcome::Cancel,
            Key::ArrowUp | Key::Char('\u{10}') => {
                self.cursor = if self.cursor == 0 {
                    last
                } else {
                    self.cursor - 1
                };
            }
            Key::ArrowDown | Key::Char('\u{e}') => {
                self.cursor = if self.cursor >= last {
                    0
                } else {
                    self.cursor + 1
                };
            }
            Key::PageUp => self.cursor = self.cursor.saturating_sub(self.page),
            Key::PageDown => self.cursor = (self.cursor + self.page).min(last),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = last,
            Key::Char(' ') => {
                if let Some(&row) = self.shown.get(self.cursor)
                    && !self.list.locked.contains(&row)
                    && !self.checked.remove(&row)
                {
                    self.checked.insert(row);
                }
            }
            // All the rows the filter shows (as inquire: what was picked elsewhere is dropped).
            Key::ArrowRight => {
                let locked = &self.list.locked;
                self.checked = self
                    .shown
                    .iter()
                    .copied()
                    .filter(|i| !locked.contains(i))
                    .collect();
            }
            Key::ArrowLeft => self.checked.clear(),
            Key::Backspace if self.filter.pop().is_some() => self.refilter(true),
            Key::Char(c) if !c.is_control() => {
                self.filter.push(*c);
                self.refilter(true);
            }
            _ => {}
        }
        Outcome::Open
    }

    fn paint(&self, text: &str, style: &Style) -> String {
        if self.color {
            style.apply_to(text).force_styling(true).to_string()
        } else {
            text.to_owned()
        }
    }

    /// The lines of the open picker on a terminal `width` columns wide: the header, the
    /// question with what was typed, a page of rows around the cursor (`^`/`v` where more are
    /// above/below, as inquire marks them), the help, and the note if any. No line is
    /// `width` long or longer (a wrapped line would be left behind when drawn again).
    pub(crate) fn frame(&self, question: &str, width: usize) -> Frame {
        let room = width.saturating_sub(1);
        let mut lines = vec![cut(&self.list.header, room)];
        let asked = cut(&format!("? {question} {}", self.filter), room);
        let column = asked.chars().count();
        lines.push(format!(
            "{}{}",
            self.paint("?", &Style::new().green().bright()),
            asked.get(1..).unwrap_or_default()
        ));
        let (start, end) = page(self.page, self.shown.len(), self.cursor);
        for (at, &row) in self.shown[start..end].iter().enumerate() {
            let at = start + at;
            let marker = if at == self.cursor {
                ">"
            } else if at == start && start > 0 {
                "^"
            } else if at + 1 == end && end < self.shown.len() {
                "v"
            } else {
                " "
            };
            let checked = self.checked.contains(&row);
            let text = cut(
                self.list.rows.get(row).map_or("", String::as_str),
                width.saturating_sub(ROW_PREFIX + 1),
            );
            let cyan = Style::new().cyan().bright();
            let (marker, text) = if at == self.cursor {
                (self.paint(marker, &cyan), self.paint(&text, &cyan))
            } else {
                (marker.to_owned(), text)
            };
            let checkbox = if checked {
                self.paint("[x]", &Style::new().green().bright())
            } else {
                "[ ]".to_owned()
            };
            lines.push(format!("{marker} {checkbox} {text}"));
        }
        lines.push(self.paint(&cut(&format!("[{HELP}]"), room), &Style::new().cyan()));
        if !self.list.note.is_empty() {
            lines.push(cut(&self.list.note, room));
        }
        Frame { lines, column }
    }

    /// What stays on the screen once answered: the header and `✔ question a, b` (the names:
    /// each picked row's first word), as inquire prints an answer.
    pub(crate) fn answered(&self, question: &str, picked: &[usize], width: usize) -> Vec<String> {
        let names: Vec<&str> = picked
            .iter()
            .filter_map(|i| self.list.rows.get(*i))
            .filter_map(|row| row.split_whitespace().next())
            .collect();
        let answer = cut(
            &names.join(", "),
            width.saturating_sub(question.chars().count() + 3),
        );
        vec![
            cut(&self.list.header, width.saturating_sub(1)),
            format!(
                "\u{2714} {question} {}",
                self.paint(&answer, &Style::new().cyan().bright())
            ),
        ]
    }

    /// What stays on the screen after Esc: `? question <back>`.
    pub(crate) fn backed(&self, question: &str, width: usize) -> Vec<String> {
        vec![
            cut(&self.list.header, width.saturating_sub(1)),
            cut(&format!("? {question} <back>"), width.saturating_sub(1)),
        ]
    }
}

/// The rows `start..end` of `total` a page of `size` shows around `cursor`, as inquire's
/// paginate places them: the cursor in the middle, except near either end.
fn page(size: usize, total: usize, cursor: usize) -> (usize, usize) {
    if total <= size {
        (0, total)
    } else if cursor < size / 2 {
        (0, size)
    } else if total - cursor - 1 < size / 2 {
        (total - size, total)
    } else {
        let start = cursor - size / 2;
        (start, start + size)
    }
}

#[cfg(test)]
mod tests;
