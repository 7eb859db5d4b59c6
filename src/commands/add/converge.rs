//! After `add`'s writes: read back and plan again. What someone else removed meanwhile (a
//! `remove` at the same time) is made once more; what they changed is a conflict, left as
//! they made it; anything else left is an error naming it.

use super::apply::{Applied, Stopped, write_all};
use super::observe::observe;
use super::plan_error;
use crate::commands::{Ports, nothing_left};
use crate::core::action::Change;
use crate::core::plan::{HubIdentity, Registration, plan};
use crate::core::progress::StepRecord;
use crate::error::Error;
use crate::ports::{EksRead, EksWrite, HubRead, HubWrite, Prompt, Write};

/// Read back and plan again: after a successful apply there must be nothing left to do.
/// What someone else removed meanwhile (`remove` deleting the identity this run found in
/// place) is made once more, recorded after the first round's writes; what someone else
/// changed is a conflict, left as they made it; if the read-back still differs, that is an
/// error naming what.
pub(super) async fn converge<H: HubRead + HubWrite, E: EksRead + EksWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    identity: &HubIdentity,
    registrations: &[Registration],
    first: Result<Applied, Stopped>,
) -> Result<Applied, Stopped> {
    let mut applied = first?;
    let stop = |applied: Applied, error: Error| Stopped { applied, error };
    for round in 0..2 {
        let observed = match observe(ports, identity, registrations, None).await {
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
