//! `policy --permissions`: print what the tool itself needs (the caller's IAM policy, the hub's
//! RBAC), from the one table in core/permissions.rs; no cluster or AWS call.

use crate::cli::output::emit;
use crate::cli::output::permissions::Permissions;
use crate::cli::settings::{PermissionSettings, Settings};
use crate::core::permissions::{iam_policy, rbac_objects};
use crate::error::Result;

pub(crate) fn run(
    settings: &Settings,
    permissions: &PermissionSettings,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let roles: Vec<String> = permissions.roles.iter().map(ToString::to_string).collect();
    let report = Permissions {
        what: permissions.what,
        iam: iam_policy(&roles),
        rbac: rbac_objects(&settings.argocd_namespace),
    };
    emit(out, settings.output, &report)
}
