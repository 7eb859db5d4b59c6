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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{OutputFormat, PermissionsArg};
    use crate::cli::output::Text;

    /// The fenced block that follows `marker` in the README.
    fn readme_block(marker: &str) -> String {
        let readme = include_str!("../../README.md");
        let after = &readme[readme.find(marker).expect("the README has the marker")..];
        let start = after.find("```").unwrap();
        let body = &after[start..];
        let body = &body[body.find('\n').unwrap() + 1..];
        body[..body.find("```").unwrap()].to_owned()
    }

    fn printed(what: PermissionsArg) -> String {
        let report = Permissions {
            what,
            iam: iam_policy(&[]),
            rbac: rbac_objects("argocd"),
        };
        let mut out = Vec::new();
        report.write_text(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_readme_shows_what_policy_permissions_prints() {
        for (what, marker) in [
            (PermissionsArg::Iam, "<!-- policy --permissions=iam -->"),
            (PermissionsArg::Rbac, "<!-- policy --permissions=rbac -->"),
        ] {
            assert_eq!(
                readme_block(marker),
                printed(what),
                "README's {marker} block differs from the output: regenerate it with kubectl-argocd_eks policy {}",
                &marker[5..marker.len() - 4]
            );
        }
    }

    #[test]
    fn as_data_the_rbac_is_a_list_and_all_holds_both() {
        let report = Permissions {
            what: PermissionsArg::All,
            iam: iam_policy(&[]),
            rbac: rbac_objects("gitops"),
        };
        let mut out = Vec::new();
        crate::cli::output::emit(&mut out, OutputFormat::Json, &report).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["iam"]["Version"], "2012-10-17");
        assert_eq!(value["rbac"]["kind"], "List");
        assert_eq!(value["rbac"]["items"][0]["metadata"]["namespace"], "gitops");
        let text = printed(PermissionsArg::All);
        assert!(text.contains("\"Sid\": \"ReadClusters\"") && text.contains("kind: ClusterRole"));
    }
}
