//! The in-memory user: FakePrompt answers questions from a script and records what it was shown.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::ports::{LiveRows, PickList, Prompt, Reply};

/// One scripted answer of the user.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Yes,
    No,
    Pick(Vec<usize>),
    One(usize),
    Text(&'static str),
    /// Enter at the default (of a select or a text question).
    Default,
    /// Esc: back one question.
    Back,
}

/// The user, answering from a script; with no answer left it refuses as `NoPrompt` does.
#[derive(Default)]
pub(crate) struct FakePrompt {
    answers: RefCell<VecDeque<Answer>>,
    /// The questions asked, in order.
    pub(crate) asked: RefCell<Vec<String>>,
    /// The items of each select and multi-select shown, in order.
    pub(crate) shown: RefCell<Vec<Vec<String>>>,
    /// The rows of each live multi-select as it opened.
    pub(crate) first_live: RefCell<Vec<Vec<String>>>,
}

impl FakePrompt {
    pub(crate) fn answering(answers: &[Answer]) -> Self {
        FakePrompt {
            answers: RefCell::new(answers.iter().cloned().collect()),
            asked: RefCell::default(),
            shown: RefCell::default(),
            first_live: RefCell::default(),
        }
    }

    fn next(&self, question: &str, flag: &str) -> Result<Answer> {
        self.asked.borrow_mut().push(question.to_owned());
        self.answers
            .borrow_mut()
            .pop_front()
            .ok_or_else(|| Error::usage(format!("no answer scripted; pass {flag}")))
    }
}

impl FakePrompt {
    fn pick_many(&self, question: &str, flag: &str, list: &PickList) -> Result<Reply<Vec<usize>>> {
        self.shown.borrow_mut().push(list.rows.clone());
        match self.next(question, flag)? {
            Answer::Pick(picked) => Ok(Reply::Answer(picked)),
            Answer::Back => Ok(Reply::Back),
            other => panic!("{question}: a multi-select got {other:?}"),
        }
    }
}

impl Prompt for FakePrompt {
    fn confirm(&self, question: &str) -> Result<bool> {
        match self.next(question, "--yes")? {
            Answer::Yes => Ok(true),
            Answer::No => Ok(false),
            other => panic!("{question}: a yes/no question got {other:?}"),
        }
    }

    /// Answers once the rows stopped changing (every cluster described), so a test sees
    /// them whole; the rows seen first are kept in `first_live`.
    async fn pick_many_live(
        &self,
        question: &str,
        flag: &str,
        rows: &impl LiveRows,
    ) -> Result<Reply<Vec<usize>>> {
        self.first_live.borrow_mut().push(rows.rows(160).rows);
        while rows.changing() {
            rows.changed().await;
        }
        self.pick_many(question, flag, &rows.rows(160))
    }

    fn pick_one(
        &self,
        question: &str,
        flag: &str,
        items: &[String],
        default: usize,
    ) -> Result<Reply<usize>> {
        self.shown.borrow_mut().push(items.to_vec());
        match self.next(question, flag)? {
            Answer::One(picked) => Ok(Reply::Answer(picked)),
            Answer::Default => Ok(Reply::Answer(default)),
            Answer::Back => Ok(Reply::Back),
            other => panic!("{question}: a select got {other:?}"),
        }
    }

    fn text(
        &self,
        question: &str,
        flag: &str,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<Reply<String>> {
        match self.next(question, flag)? {
            Answer::Text(text) => {
                validate(text).map_err(Error::usage)?;
                Ok(Reply::Answer(text.to_owned()))
            }
            Answer::Default => Ok(Reply::Answer(default.unwrap_or_default().to_owned())),
            Answer::Back => Ok(Reply::Back),
            other => panic!("{question}: a text question got {other:?}"),
        }
    }
}
