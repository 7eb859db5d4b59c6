//! The registrations a command's CLUSTER arguments name, read the one way `list`, `remove` and
//! `doctor` share (core::registration), with the error that lists what is registered.

use crate::cli::settings::TargetRef;
use crate::core::registration::{EksRegistration, SelectError, select};
use crate::error::{Error, Result};

/// The registrations `wanted` names, each once, in the order named.
pub(crate) fn named<'a>(
    registrations: &'a [EksRegistration],
    wanted: &[TargetRef],
    namespace: &str,
) -> Result<Vec<&'a EksRegistration>> {
    let mut chosen: Vec<&EksRegistration> = Vec::new();
    for target in wanted {
        let text = match target {
            TargetRef::Arn(arn) => arn.to_string(),
            TargetRef::Name(name) => name.clone(),
        };
        let registration =
            select(registrations, &text, namespace).map_err(|e| select_error(e, namespace))?;
        if !chosen.iter().any(|r| r.secret == registration.secret) {
            chosen.push(registration);
        }
    }
    Ok(chosen)
}

fn select_error(error: SelectError, namespace: &str) -> Error {
    match error {
        SelectError::None {
            wanted, candidates, ..
        } => Error::NotFound {
            what: format!("a registered EKS cluster called {wanted} in namespace {namespace}"),
            fix: if candidates.is_empty() {
                "No EKS cluster is registered there; pass --argocd-namespace if Argo CD runs elsewhere. Nothing was changed".to_owned()
            } else {
                format!(
                    "Registered (Secret = cluster): {}. Pass a cluster name, cluster ARN or Secret name (kubectl argocd-eks list shows them). Nothing was changed",
                    candidates.join(", ")
                )
            },
        },
        ambiguous @ SelectError::Ambiguous { .. } => {
            Error::usage(format!("{ambiguous}. Nothing was changed"))
        }
    }
}
