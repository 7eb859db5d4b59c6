//! Faults a test injects into the fakes' writes (hub and AWS alike): each fails the next write
//! whose log line starts with its key, as a server error, a refusal, or a write someone else
//! made first.

use std::cell::RefCell;

use crate::error::{Error, Result};

/// How a faulty write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// As a server error (exit 1).
    Fail,
    /// As already there: EKS's ResourceInUseException, Kubernetes' 409, after "someone else"
    /// made the very same write just before (the creates and applies; other writes only fail).
    InUse,
    /// As [`Fault::InUse`], but someone else made it with this role (associations, annotations).
    TakenBy(&'static str),
    /// As a refusal (AccessDenied, 403).
    Denied,
}

/// Faults of a fake's writes: each fails the next write whose log line starts with its key.
#[derive(Default)]
pub(crate) struct Faults(RefCell<Vec<(String, Fault)>>);

impl Faults {
    pub(crate) fn set(&self, write: &str, fault: Fault) {
        self.0.borrow_mut().push((write.to_owned(), fault));
    }

    /// The fault set for write `what`, taken (it fails once).
    fn take(&self, what: &str) -> Option<Fault> {
        let mut faults = self.0.borrow_mut();
        let index = faults.iter().position(|(key, _)| what.starts_with(key))?;
        Some(faults.remove(index).1)
    }

    /// Err for a write that fails as a server error or a refusal; Ok(Some) for one someone
    /// else made first (the caller makes it so, then returns [`Faults::in_use`]).
    pub(crate) fn check(&self, what: &str) -> Result<Option<Fault>> {
        match self.take(what) {
            None => Ok(None),
            Some(Fault::Fail) => Err(Error::Aws {
                operation: what.to_owned(),
                message: "InternalFailure: injected by the test".into(),
                fix: "try again".into(),
                source: None,
            }),
            Some(Fault::Denied) => Err(Error::denied(
                format!("{what} (injected by the test)"),
                "ask",
            )),
            Some(fault) => Ok(Some(fault)),
        }
    }

    /// The error of a write someone else made first.
    pub(crate) fn in_use(what: &str) -> Error {
        Error::Conflict {
            what: format!("{what}: ResourceInUseException (injected by the test)"),
            fix: "run again".into(),
        }
    }

    /// After the write: Err when it was someone else's first.
    pub(crate) fn after(fault: Option<Fault>, what: &str) -> Result<()> {
        match fault {
            None => Ok(()),
            Some(_) => Err(Self::in_use(what)),
        }
    }
}
