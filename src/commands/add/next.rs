//! The doctor command `add` prints as a next step, with the flags that found the clusters.

use crate::cli::settings::Settings;
use crate::core::model::IdentityMode;
use crate::core::plan::{HubIdentity, Registration};

/// The doctor command that checks these registrations, with the flags that found them.
pub(super) fn doctor_command(
    settings: &Settings,
    registrations: &[Registration],
    identity: &HubIdentity,
) -> String {
    let mut words = vec!["kubectl argocd-eks doctor".to_owned()];
    words.extend(registrations.iter().map(|r| r.cluster.arn.to_string()));
    let mut flag = |name: &str, value: &str| {
        words.push(format!("--{name} {}", shell_word(value)));
    };
    if let Some(path) = &settings.kubeconfig {
        flag("kubeconfig", &path.display().to_string());
    }
    if let Some(context) = &settings.context {
        flag("context", context);
    }
    flag("argocd-namespace", &identity.namespace);
    if identity.mode == IdentityMode::Capability {
        // The capability's role (add keeps it as the management role) is not in the Secret.
        flag("capability-role", &identity.management_role.to_string());
    }
    if let Some(profile) = &settings.aws.profile {
        flag("profile", profile);
    }
    for region in &settings.aws.regions {
        flag("region", region);
    }
    for role in &settings.aws.assume_roles {
        flag("assume-role", &role.to_string());
    }
    words.join(" ")
}

/// `text` as one shell word: as is when it holds only safe characters, else single-quoted.
fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@=+,".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
