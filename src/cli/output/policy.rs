//! What `policy` reports: the roles and their documents, the aws commands that make them, and
//! with `--create` the plan and its outcome; as text for people, or YAML / JSON for machines.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde::Serialize;

use super::{Outcome, PlanLine, Text, change_summary, write_notes, write_plan_lines};
use crate::core::model::{ClusterArn, IdentityMode, RoleArn};
use crate::core::policy::document::{PolicyDocument, STS_AUDIENCE};
use crate::core::policy::generate::{NamedPolicy, OidcProvider, RoleKind, RolePolicies};
use crate::core::policy::plan::{
    Change, PlanStep, creation_trust, provider_subject, trust_subject,
};

/// What `policy` reports, as text or as a machine document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyReport {
    pub(crate) identity: IdentityMode,
    pub(crate) hub_cluster: Option<ClusterArn>,
    pub(crate) argocd_namespace: String,
    pub(crate) service_accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) oidc_provider: Option<OidcProvider>,
    pub(crate) roles: Vec<RolePolicies>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plan: Option<Vec<PlanStep>>,
    /// With `--create`: `applied`, `unchanged`, `dry-run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) outcome: Option<Outcome>,
    /// Without `--create`: the roles that exist and could be read, with what they should become.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) existing: Vec<ExistingRole>,
    pub(crate) notes: Vec<String>,
}

/// A role that exists: the documents it should get (what `--create` writes), every statement it
/// has kept; None where it already allows what Argo CD needs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExistingRole {
    pub(crate) arn: RoleArn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trust_policy: Option<PolicyDocument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) permission_policy: Option<NamedPolicy>,
}

impl PlanLine for PlanStep {
    const WIDTH: usize = 9;

    /// As `add` shows its plan, with `! by hand` for manual steps.
    fn marker(&self) -> &'static str {
        match self.change {
            Change::Create => "+",
            Change::Update => "~",
            Change::Unchanged => "=",
            Change::Manual => "!",
        }
    }

    fn word(&self) -> &'static str {
        match self.change {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
            Change::Manual => "by hand",
        }
    }

    fn subject(&self) -> String {
        self.subject.clone()
    }

    fn detail(&self) -> &str {
        &self.detail
    }
}

/// `--create`'s plan as shown before the question: where Argo CD runs, then one line per
/// document.
pub(crate) struct PolicyPlan<'a> {
    pub(crate) report: &'a PolicyReport,
    pub(crate) steps: &'a [PlanStep],
}

impl Text for PolicyPlan<'_> {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        write_header(out, self.report)?;
        writeln!(out, "\nPlan:")?;
        write_plan_lines(out, self.steps)
    }
}

/// Without `--create`: every role's documents and the aws commands that make them; with it,
/// the outcome (the plan was shown before).
impl Text for PolicyReport {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        match &self.plan {
            None => write_documents(out, self),
            Some(_) => write_outcome(out, self),
        }
    }
}

/// Where Argo CD runs, its service accounts, and the identity mode.
fn write_header(out: &mut dyn Write, report: &PolicyReport) -> io::Result<()> {
    let hub = report.hub_cluster.as_ref().map_or_else(
        || "hub (EKS cluster unknown)".to_owned(),
        |arn| format!("hub {arn}"),
    );
    writeln!(
        out,
        "Argo CD in namespace {} on {hub}; service accounts: {}",
        report.argocd_namespace,
        report.service_accounts.join(", ")
    )?;
    match &report.oidc_provider {
        Some(provider) => writeln!(
            out,
            "Identity: irsa (OIDC issuer {}, IAM OIDC provider {})",
            provider.url, provider.arn
        ),
        None => writeln!(out, "Identity: pod-identity (EKS Pod Identity agent)"),
    }
}

/// After `--create`: what was made, and what is left to do by hand.
fn write_outcome(out: &mut dyn Write, report: &PolicyReport) -> io::Result<()> {
    let plan = report.plan.as_deref().unwrap_or_default();
    let count = |change| plan.iter().filter(|s| s.change == change).count();
    let summary = change_summary(
        count(Change::Create),
        count(Change::Update),
        count(Change::Unchanged),
    );
    match report.outcome {
        Some(Outcome::Unchanged) => writeln!(out, "\nNothing to change ({summary})."),
        Some(Outcome::Applied) => writeln!(out, "\nApplied and read back: {summary}."),
        _ => writeln!(
            out,
            "\nDry run: nothing was changed (would create {}, update {}; {} unchanged).",
            count(Change::Create),
            count(Change::Update),
            count(Change::Unchanged)
        ),
    }?;
    // What this run could not make: the documents and commands for the user to run.
    let by_hand: BTreeSet<&str> = plan
        .iter()
        .filter(|s| s.change == Change::Manual)
        .map(|s| s.subject.as_str())
        .collect();
    let manual_roles: Vec<&RolePolicies> = report
        .roles
        .iter()
        .filter(|r| by_hand.contains(trust_subject(&r.arn).as_str()))
        .collect();
    let provider_by_hand = report
        .oidc_provider
        .as_ref()
        .is_some_and(|p| by_hand.contains(provider_subject(p).as_str()));
    if !manual_roles.is_empty() || provider_by_hand {
        writeln!(out, "\nTo do by hand:")?;
        for role in &manual_roles {
            write_role(out, report, role)?;
        }
        write_commands(out, report, &manual_roles, provider_by_hand)?;
    }
    write_notes(out, &report.notes)?;
    if report.outcome == Some(Outcome::Applied) {
        writeln!(
            out,
            "Argo CD's pods use the management role once their {} is set: kubectl argocd-eks add does that.",
            match report.identity {
                IdentityMode::Irsa => "service accounts' eks.amazonaws.com/role-arn annotation",
                IdentityMode::PodIdentity => "pod identity associations",
                IdentityMode::Capability => "EKS Argo CD capability",
            }
        )?;
    }
    Ok(())
}

/// File name for a role's document: `<name>-<what>.json`, with the account when names repeat.
fn file_name(report: &PolicyReport, role: &RoleArn, what: &str) -> String {
    let repeated = report
        .roles
        .iter()
        .filter(|r| r.arn.name() == role.name())
        .count()
        > 1;
    if repeated {
        format!("{}-{}-{what}.json", role.name(), role.account)
    } else {
        format!("{}-{what}.json", role.name())
    }
}

fn write_role(out: &mut dyn Write, report: &PolicyReport, role: &RolePolicies) -> io::Result<()> {
    let title = match (role.kind, role.self_assume) {
        (RoleKind::Management, false) => "Management role",
        (RoleKind::Management, true) => "Management role (also the target role)",
        (RoleKind::Target, _) => "Target role",
    };
    writeln!(out, "\n== {title} {} ==", role.arn)?;
    writeln!(out, "{}", role.purpose)?;
    writeln!(
        out,
        "\nTrust policy ({}):\n{:#}",
        file_name(report, &role.arn, "trust"),
        role.trust_policy
    )?;
    for policy in &role.permission_policies {
        writeln!(
            out,
            "\nPermission policy {} ({}):\n{:#}",
            policy.name,
            file_name(report, &role.arn, "permissions"),
            policy.document
        )?;
    }
    Ok(())
}

/// The aws CLI commands that make `roles` (and the OIDC provider), grouped by account.
fn write_commands(
    out: &mut dyn Write,
    report: &PolicyReport,
    roles: &[&RolePolicies],
    with_provider: bool,
) -> io::Result<()> {
    let mut lines = vec![
        String::new(),
        "== With the aws CLI ==".to_owned(),
        "Save each document above under its file name, then run, with credentials for each account:"
            .to_owned(),
    ];
    let mut accounts: Vec<&str> = Vec::new();
    let management_account = report.roles[0].arn.account.as_str();
    if with_provider {
        accounts.push(management_account);
    }
    for role in roles {
        if !accounts.contains(&role.arn.account.as_str()) {
            accounts.push(&role.arn.account);
        }
    }
    for account in accounts {
        lines.push(format!("\n# account {account}"));
        if with_provider
            && account == management_account
            && let Some(provider) = &report.oidc_provider
        {
            lines.push(format!(
                "# the hub's IAM OIDC provider, {} (skip it when aws iam list-open-id-connect-providers lists it)",
                provider.arn
            ));
            lines.push(format!(
                "aws iam create-open-id-connect-provider --url {} --client-id-list {STS_AUDIENCE}",
                provider.url
            ));
        }
        for role in roles.iter().filter(|r| r.arn.account == account) {
            let name = role.arn.name();
            let path = match role.arn.path_and_name.rsplit_once('/') {
                Some((path, _)) => format!(" --path /{path}/"),
                None => String::new(),
            };
            let trust_file = file_name(report, &role.arn, "trust");
            if let Some(existing) = report.existing.iter().find(|e| e.arn == role.arn) {
                lines.push(format!(
                    "# role {name} exists: as --create would, these keep every statement it has"
                ));
                match &existing.trust_policy {
                    Some(trust) => lines.push(format!(
                        "aws iam update-assume-role-policy --role-name {name} --policy-document {}",
                        quoted(trust)
                    )),
                    None => lines.push("# its trust policy already allows it".to_owned()),
                }
                if let Some(policy) = &existing.permission_policy {
                    lines.push(format!(
                        "aws iam put-role-policy --role-name {name} --policy-name {} --policy-document {}",
                        policy.name,
                        quoted(&policy.document)
                    ));
                }
                continue;
            }
            if role.self_assume {
                let first = creation_trust(role);
                lines.push(
                    "# IAM accepts a role as a principal only once it exists: create it, then let it trust itself"
                        .to_owned(),
                );
                lines.push(format!(
                    "aws iam create-role --role-name {name}{path} --assume-role-policy-document '{first}'"
                ));
                lines.push(format!(
                    "aws iam update-assume-role-policy --role-name {name} --policy-document file://{trust_file}"
                ));
            } else {
                lines.push(format!(
                    "aws iam create-role --role-name {name}{path} --assume-role-policy-document file://{trust_file}"
                ));
                lines.push(format!(
                    "# when the role exists (this replaces its trust policy; --create adds to it): aws iam update-assume-role-policy --role-name {name} --policy-document file://{trust_file}"
                ));
            }
            for policy in &role.permission_policies {
                lines.push(format!(
                    "aws iam put-role-policy --role-name {name} --policy-name {} --policy-document file://{}",
                    policy.name,
                    file_name(report, &role.arn, "permissions")
                ));
            }
        }
    }
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// A document as one shell word.
fn quoted(document: &PolicyDocument) -> String {
    format!("'{}'", document.to_string().replace('\'', r"'\''"))
}

/// Without `--create`: every role's documents, and the aws commands that make them.
fn write_documents(out: &mut dyn Write, report: &PolicyReport) -> io::Result<()> {
    write_header(out, report)?;
    for role in &report.roles {
        write_role(out, report, role)?;
    }
    let roles: Vec<&RolePolicies> = report.roles.iter().collect();
    write_commands(out, report, &roles, report.oidc_provider.is_some())?;
    writeln!(
        out,
        "\nOr let this tool make them: the same command with --create (it shows a plan first)."
    )?;
    write_notes(out, &report.notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lines_line_up_with_adds() {
        let step = |change| PlanStep {
            change,
            account: "111122223333".into(),
            subject: "role r trust policy".into(),
            detail: "why".into(),
            write: None,
        };
        let mut out = Vec::new();
        write_plan_lines(&mut out, &[step(Change::Create), step(Change::Manual)]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  + create    role r trust policy  (why)\n  ! by hand   role r trust policy  (why)\n"
        );
    }
}
