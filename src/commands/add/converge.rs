//! After `add`'s writes: read back and plan again. What someone else removed meanwhile (a
//! `remove` at the same time) is made once more; what they changed is a conflict, left as
//! they made it; anything else left is an error naming it.

use super::apply::{Applied, HubAnswers, Stopped, write_all};
use super::observe::{HubLists, observe};
use super::plan_error;
use crate::commands::{Ports, nothing_left};
use crate::core::action::Change;
use crate::core::plan::{HubIdentity, Observed, Registration, plan};
use crate::core::progress::StepRecord;
use crate::error::Error;
use crate::ports::{EksRead, EksWrite, HubRead, HubWrite, Prompt, Write};

/// The hub's lists as they stand after this run's writes: what the plan read, each object
/// this run wrote replaced by the server's answer to the write. None when a write has no
/// answer of its own (then the hub is listed again).
fn lists_after(before: &Observed, answers: &HubAnswers) -> Option<HubLists> {
    if answers.partial {
        return None;
    }
    let mut secrets = before.secrets.clone();
    for answer in &answers.secrets {
        secrets.retain(|s| !(s.namespace == answer.namespace && s.name == answer.name));
        secrets.push(answer.clone());
    }
    let mut service_accounts = before.service_accounts.clone();
    for answer in &answers.service_accounts {
        service_accounts.retain(|sa| sa.name != answer.name);
        service_accounts.push(answer.clone());
    }
    Some((secrets, service_accounts))
}

/// Read back and plan again: after a successful apply there must be nothing left to do.
/// The hub's part of the read-back is its answers to the writes (server-side apply returns
/// the object as stored), the AWS part is read again. What someone else removed meanwhile
/// (`remove` deleting the identity this run found in place) is made once more, recorded
/// after the first round's writes; what someone else changed is a conflict, left as they
/// made it; if the read-back still differs, that is an error naming what.
pub(super) async fn converge<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
    before: &Observed,
    first: Result<Applied, Stopped>,
) -> Result<Applied, Stopped> {
    let mut applied = first?;
    let stop = |applied: Applied, error: Error| Stopped { applied, error };
    for round in 0..2 {
        // The second round follows writes made again: the hub is listed afresh.
        let lists = (round == 0)
            .then(|| lists_after(before, &applied.answers))
            .flatten();
        let observed = match observe(ports, identity, registrations, lists).await {
            Ok(observed) => observed,
            Err(error) => return Err(stop(applied, error)),
        };
        let again = match plan(identity, registrations, &observed) {
            Ok(again) => again,
            Err(error) => return Err(stop(applied, plan_error(&error))),
        };
        if again.is_noop() {
            return Ok(applied);
        }
        if round == 1 {
            let left: Vec<String> = again
                .writes()
                .map(|a| format!("{} ({})", a.step.subject(), a.detail))
                .collect();
            return match nothing_left(&left) {
                Ok(()) => Ok(applied),
                Err(error) => Err(stop(applied, error)),
            };
        }
        // Someone else changed what this run wrote: left as they made it, never written over.
        let changed: Vec<String> = again
            .writes()
            .filter(|a| a.change == Change::Update)
            .map(|a| format!("{} ({})", a.step.subject(), a.detail))
            .collect();
        if !changed.is_empty() {
            let error = Error::Conflict {
                what: format!(
                    "after this run wrote them, someone else changed {}",
                    changed.join("; ")
                ),
                fix: "They were left as they are. Run the same command again to see the plan against them".into(),
            };
            return Err(stop(applied, error));
        }
        // Made again: after this run's write, someone else removed it.
        let (progress, error) = match write_all(ports, &again, false, Write::Real).await {
            Ok(more) => (more.progress, None),
            Err(stopped) => (stopped.applied.progress, Some(stopped.error)),
        };
        applied
            .progress
            .steps
            .extend(progress.steps.into_iter().map(|step| StepRecord {
                redone: true,
                ..step
            }));
        if let Some(error) = error {
            return Err(stop(applied, error));
        }
    }
    Ok(applied)
}
