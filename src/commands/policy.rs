//! `policy`: the IAM trust and permission policies of Argo CD's management role and of its
//! target roles, built from the hub's real OIDC issuer and service accounts; printed, or with
//! `--create` made: observe -> plan -> show -> confirm -> apply -> verify, like `add`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cli::args::{DryRun, OutputFormat};
use crate::cli::settings::{IdentityChoice, PolicySettings, Settings};
use crate::commands::Ports;
use crate::commands::targets::{Account, find_hub_cluster, search_regions};
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, ClusterArn, EksCluster, IdentityMode, POD_IDENTITY_AGENT_ADDON,
    RoleArn, SaRef,
};
use crate::core::trust::{
    ASSUME_ROLE, Effect, PolicyDocument, Principal, STS_AUDIENCE, Statement, irsa_trust,
    management_permissions, oidc_provider_arn, parse_policy, pod_identity_trust,
    self_assume_statement, target_role_trust,
};
use crate::error::{Error, Result};
use crate::ports::{Eks, Hub, HubContext, Iam, Prompt};

/// The inline policy the tool owns on the management role.
pub const INLINE_POLICY: &str = "kubectl-argocd-eks";
/// The management role's name when `--management-role-arn` is not given.
pub const DEFAULT_MANAGEMENT_ROLE: &str = "argocd-management";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum RoleKind {
    Management,
    Target,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct NamedPolicy {
    name: String,
    document: PolicyDocument,
}

/// One role and the documents it needs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RolePolicies {
    arn: RoleArn,
    kind: RoleKind,
    /// The management role is also a target role (roleARN = itself): it trusts itself.
    self_assume: bool,
    purpose: String,
    trust_policy: PolicyDocument,
    permission_policies: Vec<NamedPolicy>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct OidcProvider {
    arn: String,
    url: String,
    client_ids: [&'static str; 1],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Change {
    Create,
    Update,
    Unchanged,
    /// Needs credentials (or a feature) this run does not have: the user runs the aws commands.
    Manual,
}

impl Change {
    fn marker(self) -> &'static str {
        match self {
            Change::Create => "+ create   ",
            Change::Update => "~ update   ",
            Change::Unchanged => "= unchanged",
            Change::Manual => "! by hand  ",
        }
    }
}

/// A write to IAM, with everything the writer needs; `account` says which credentials make it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IamWrite {
    CreateOidcProvider {
        issuer: String,
    },
    CreateRole {
        name: String,
        trust: PolicyDocument,
        description: String,
        /// Set after creating: a trust policy that names the role itself (IAM refuses a
        /// principal that does not exist yet).
        then_trust: Option<PolicyDocument>,
    },
    UpdateTrust {
        name: String,
        trust: PolicyDocument,
    },
    PutPolicy {
        role: String,
        document: PolicyDocument,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanStep {
    change: Change,
    account: String,
    subject: String,
    detail: String,
    #[serde(skip)]
    write: Option<IamWrite>,
}

/// What `policy` reports, as text or as a machine document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyReport {
    identity: IdentityMode,
    hub_cluster: Option<ClusterArn>,
    argocd_namespace: String,
    service_accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc_provider: Option<OidcProvider>,
    roles: Vec<RolePolicies>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<Vec<PlanStep>>,
    /// With `--create`: `applied`, `unchanged`, `dry-run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    notes: Vec<String>,
}

pub async fn run<H: Hub, A: Eks + Iam, P: Prompt>(
    settings: &Settings,
    policy: &PolicySettings,
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let hub_eks = &ports.accounts[0].eks;
    let mut notes = Vec::new();
    let (namespace, present) = argocd_namespace(ports.hub, settings).await?;
    let service_accounts = argocd_service_accounts(&namespace, &present, &mut notes);

    let context = ports.hub.context();
    let regions = hub_regions(context, &settings.regions, default_region)?;
    let hub_arn =
        find_hub_cluster(context, hub_eks, policy.hub_cluster.as_deref(), &regions).await?;
    let hub = match &hub_arn {
        Some(arn) => hub_eks.describe_cluster(&arn.region, &arn.name).await?,
        None => None,
    };
    let mode = match (policy.identity, &hub_arn) {
        (IdentityChoice::Fixed(mode), _) => mode,
        (IdentityChoice::Auto, Some(arn))
            if hub_eks.has_addon(arn, POD_IDENTITY_AGENT_ADDON).await? =>
        {
            IdentityMode::PodIdentity
        }
        (IdentityChoice::Auto, _) => IdentityMode::Irsa,
    };

    // The caller's account: the default management role's, and the one --create writes with.
    let caller = if policy.management_role.is_none() || policy.create {
        Some(hub_eks.caller().await?)
    } else {
        None
    };
    let management = match (&policy.management_role, &caller) {
        (Some(role), _) => role.clone(),
        (None, Some((account, arn))) => default_management_role(account, arn)?,
        (None, None) => unreachable!("the caller is read when no management role is given"),
    };

    let oidc_provider = match mode {
        IdentityMode::Irsa => Some(irsa_provider(
            context,
            hub.as_ref(),
            hub_arn.as_ref(),
            &management,
        )?),
        IdentityMode::PodIdentity => {
            if hub_arn.is_none() {
                notes.push(format!(
                    "the hub's EKS cluster is not known from kube context {:?}, so the trust policy is not limited to it (aws:RequestTag/eks-cluster-arn); pass --hub-cluster to limit it",
                    context.context
                ));
            }
            None
        }
    };
    let roles = wanted_roles(
        mode,
        &management,
        &policy.target_roles,
        oidc_provider.as_ref(),
        hub_arn.as_ref(),
        &service_accounts,
    );
    let mut report = PolicyReport {
        identity: mode,
        hub_cluster: hub_arn,
        argocd_namespace: namespace,
        service_accounts: service_accounts.iter().map(|sa| sa.name.clone()).collect(),
        oidc_provider,
        roles,
        plan: None,
        outcome: None,
        notes,
    };
    let text = settings.output == OutputFormat::Text;
    if !policy.create {
        if text {
            write_text(out, &report)?;
        } else {
            write_document(out, settings.output, &report)?;
        }
        return flush(out);
    }

    let caller_account = caller.map(|(account, _)| account).unwrap_or_default();
    let accounts = ports.accounts;
    let mut plan_notes = Vec::new();
    let plan = observe_and_plan(accounts, &caller_account, &report, &mut plan_notes).await?;
    report.notes.extend(plan_notes);
    let writes = plan.iter().any(|s| s.write.is_some());
    if text {
        write_header(out, &report)?;
        write_plan(out, &plan)?;
    }
    let outcome = if !writes {
        "unchanged"
    } else if settings.dry_run != DryRun::None {
        "dry-run"
    } else {
        if !settings.yes && !ports.prompt.confirm("Apply these changes?")? {
            return Err(Error::Cancelled);
        }
        apply(accounts, &caller_account, &plan).await?;
        verify(accounts, &caller_account, &report).await?;
        "applied"
    };
    report.plan = Some(plan);
    report.outcome = Some(outcome);
    if text {
        write_outcome(out, &report)?;
    } else {
        write_document(out, settings.output, &report)?;
    }
    flush(out)
}

fn flush(out: &mut dyn std::io::Write) -> Result<()> {
    out.flush().map_err(write_err)
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Output(e.to_string())
}

// ---- observe the hub ----

/// Argo CD's namespace (`--argocd-namespace`, else `argocd`, else the one namespace that has
/// Argo CD's application controller service account, as `add` finds it), and the names of the
/// service accounts in it.
async fn argocd_namespace<H: Hub>(hub: &H, settings: &Settings) -> Result<(String, Vec<String>)> {
    let names = |namespace: String| async move {
        let names = hub
            .service_accounts(&namespace)
            .await?
            .into_iter()
            .map(|sa| sa.name)
            .collect::<Vec<_>>();
        Ok::<_, Error>((namespace, names))
    };
    let default = &settings.argocd_namespace;
    let (namespace, present) = names(default.clone()).await?;
    let controller = ARGOCD_SERVICE_ACCOUNTS[0].0;
    if settings.argocd_namespace_given || present.iter().any(|name| name == controller) {
        return Ok((namespace, present));
    }
    let found = hub.namespaces_with_service_account(controller).await?;
    match found.as_slice() {
        [only] => {
            eprintln!("Argo CD found in namespace {only} (not {default}).");
            names(only.clone()).await
        }
        [] => Ok((namespace, present)),
        several => Err(Error::usage(format!(
            "Argo CD seems installed in several namespaces ({}); pass --argocd-namespace",
            several.join(", ")
        ))),
    }
}

/// Argo CD's service accounts that need the identity: the ones Argo CD always has, and the
/// ApplicationSet controller's when it exists (`present`: the names in `namespace`).
fn argocd_service_accounts(
    namespace: &str,
    present: &[String],
    notes: &mut Vec<String>,
) -> Vec<SaRef> {
    let missing: Vec<&str> = ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, always)| *always && !present.iter().any(|p| p == name))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "namespace {namespace} has no service account {}: the policies are for Argo CD's defaults there (pass --argocd-namespace if Argo CD runs elsewhere)",
            missing.join(", ")
        ));
    }
    ARGOCD_SERVICE_ACCOUNTS
        .iter()
        .filter(|(name, always)| *always || present.iter().any(|p| p == name))
        .map(|(name, _)| SaRef::new(namespace, name))
        .collect()
}

/// The regions to look for the hub in; none are needed when the context names its EKS ARN.
fn hub_regions(
    context: &HubContext,
    flags: &[String],
    default_region: Option<&str>,
) -> Result<Vec<String>> {
    search_regions(flags, default_region).or_else(|error| {
        ClusterArn::parse(&context.context)
            .or_else(|_| ClusterArn::parse(&context.cluster))
            .map(|arn| vec![arn.region])
            .map_err(|_| error)
    })
}

/// IRSA's IAM OIDC provider: the hub's real issuer, in the management role's account.
fn irsa_provider(
    context: &HubContext,
    hub: Option<&EksCluster>,
    hub_arn: Option<&ClusterArn>,
    management: &RoleArn,
) -> Result<OidcProvider> {
    let issuer = match (hub_arn, hub.and_then(|c| c.oidc_issuer.clone())) {
        (_, Some(issuer)) => issuer,
        (None, None) => {
            return Err(Error::usage(format!(
                "IRSA's trust policy needs the hub's OIDC issuer, and kube context {:?} does not say which EKS cluster the hub is: pass --hub-cluster NAME (and --region REGION)",
                context.context
            )));
        }
        (Some(arn), None) => {
            return Err(Error::NotFound {
                what: format!("an OIDC issuer on the hub's EKS cluster {arn}"),
                fix: "Use --identity pod-identity, or check --hub-cluster".into(),
            });
        }
    };
    Ok(OidcProvider {
        arn: oidc_provider_arn(&management.partition, &management.account, &issuer),
        url: issuer,
        client_ids: [STS_AUDIENCE],
    })
}

/// `role/argocd-management` in the caller's account and partition.
fn default_management_role(account: &str, caller_arn: &str) -> Result<RoleArn> {
    let partition = caller_arn.split(':').nth(1).unwrap_or("aws");
    RoleArn::parse(&format!(
        "arn:{partition}:iam::{account}:role/{DEFAULT_MANAGEMENT_ROLE}"
    ))
    .map_err(|e| Error::usage(format!("{e}; pass --management-role-arn")))
}

// ---- the documents ----

fn wanted_roles(
    mode: IdentityMode,
    management: &RoleArn,
    target_roles: &[RoleArn],
    oidc_provider: Option<&OidcProvider>,
    hub: Option<&ClusterArn>,
    service_accounts: &[SaRef],
) -> Vec<RolePolicies> {
    let pod_identity = mode == IdentityMode::PodIdentity;
    let targets: BTreeSet<&RoleArn> = target_roles.iter().collect();
    let self_assume = targets.contains(management);
    let mut trust = match oidc_provider {
        Some(provider) => irsa_trust(&provider.arn, &provider.url, service_accounts),
        None => pod_identity_trust(hub, service_accounts),
    };
    let names: Vec<&str> = service_accounts.iter().map(|sa| sa.name.as_str()).collect();
    let mut purpose = match mode {
        IdentityMode::Irsa => format!(
            "Argo CD's pods run as this role: IRSA, each service account ({}) annotated with eks.amazonaws.com/role-arn.",
            names.join(", ")
        ),
        IdentityMode::PodIdentity => format!(
            "Argo CD's pods run as this role: one EKS Pod Identity association per service account ({}).",
            names.join(", ")
        ),
    };
    if self_assume {
        trust.add_statement(self_assume_statement(management, pod_identity));
        purpose.push_str(
            " It is also the target role (awsAuthConfig.roleARN = this role), so it trusts itself (statement ArgoCdSelfAssume, Argo CD issue #17064).",
        );
    }
    let owned: Vec<RoleArn> = targets.iter().map(|r| (*r).clone()).collect();
    let permissions = management_permissions(&owned, pod_identity);
    match &permissions {
        Some(_) => purpose.push_str(" Its permission policy lets it assume exactly the target roles."),
        None => purpose.push_str(
            " Direct mode (no --role-arn): it needs no permission policy; map this role itself into each target cluster (kubectl argocd-eks add makes the access entry).",
        ),
    }
    let mut roles = vec![RolePolicies {
        arn: management.clone(),
        kind: RoleKind::Management,
        self_assume,
        purpose,
        trust_policy: trust,
        permission_policies: permissions
            .into_iter()
            .map(|document| NamedPolicy {
                name: INLINE_POLICY.into(),
                document,
            })
            .collect(),
    }];
    for target in targets.into_iter().filter(|t| *t != management) {
        roles.push(RolePolicies {
            arn: target.clone(),
            kind: RoleKind::Target,
            self_assume: false,
            purpose: format!(
                "Argo CD assumes this role to reach target clusters in account {} (awsAuthConfig.roleARN); map it into each target cluster (kubectl argocd-eks add makes the access entry). It needs no permission policy.{}",
                target.account,
                if pod_identity {
                    " Its trust allows sts:TagSession: pod identity's session tags are transitive."
                } else {
                    ""
                }
            ),
            trust_policy: target_role_trust(management, pod_identity),
            permission_policies: Vec::new(),
        });
    }
    roles
}

/// A statement in a form where equal meaning is equal text: no Sid, sorted values, actions and
/// condition keys in lower case (IAM compares those without case).
fn canonical_statement(statement: &Statement) -> String {
    let mut s = statement.clone();
    s.sid = None;
    let sort = |values: &mut crate::core::trust::Values, lower: bool| {
        if lower {
            values
                .0
                .iter_mut()
                .for_each(|v| *v = v.to_ascii_lowercase());
        }
        values.0.sort();
        values.0.dedup();
    };
    for values in [&mut s.action, &mut s.not_action].into_iter().flatten() {
        sort(values, true);
    }
    for values in [&mut s.resource, &mut s.not_resource].into_iter().flatten() {
        sort(values, false);
    }
    for principal in [&mut s.principal, &mut s.not_principal]
        .into_iter()
        .flatten()
    {
        if let Principal::Of(kinds) = principal {
            kinds.values_mut().for_each(|values| sort(values, false));
        }
    }
    s.condition = std::mem::take(&mut s.condition)
        .into_iter()
        .map(|(operator, keys)| {
            let keys = keys
                .into_iter()
                .map(|(key, mut values)| {
                    sort(&mut values, false);
                    (key.to_ascii_lowercase(), values)
                })
                .collect();
            (operator.to_ascii_lowercase(), keys)
        })
        .collect();
    serde_json::to_string(&s).unwrap_or_default()
}

fn canonical(doc: &PolicyDocument) -> (String, BTreeSet<String>) {
    (
        doc.version.clone(),
        doc.statements.iter().map(canonical_statement).collect(),
    )
}

/// Whether two documents mean the same (statement order, Sids, value order aside).
fn same_policy(a: &PolicyDocument, b: &PolicyDocument) -> bool {
    canonical(a) == canonical(b)
}

/// The wanted statements `existing` lacks.
fn missing_statements<'a>(
    existing: &PolicyDocument,
    wanted: &'a PolicyDocument,
) -> Vec<&'a Statement> {
    let have = canonical(existing).1;
    wanted
        .statements
        .iter()
        .filter(|s| !have.contains(&canonical_statement(s)))
        .collect()
}

/// The roles a permission policy lets its holder `sts:AssumeRole`, by exact ARN.
fn assumable_roles(doc: &PolicyDocument) -> BTreeSet<RoleArn> {
    doc.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.principal.is_none())
        .filter(|s| {
            s.action
                .iter()
                .flat_map(|a| a.iter())
                .any(|a| a.eq_ignore_ascii_case(ASSUME_ROLE))
        })
        .flat_map(|s| s.resource.iter().flat_map(|r| r.iter()))
        .filter_map(|r| RoleArn::parse(r).ok())
        .collect()
}

// ---- observe IAM and plan ----

/// The IAM client for `account`: the caller's own, or an `--assume-role` account's.
fn iam_for<'a, A>(accounts: &'a [Account<A>], caller: &str, account: &str) -> Option<&'a A> {
    if account == caller {
        return Some(&accounts[0].eks);
    }
    accounts
        .iter()
        .find(|a| a.id.as_deref() == Some(account))
        .map(|a| &a.eks)
}

/// A role as IAM has it: trust policy, and the tool's inline policy if there is one.
struct ObservedRole {
    trust: PolicyDocument,
    inline: Option<PolicyDocument>,
}

/// The inline policy is read only for `with_policy` (a target role needs none).
async fn observe_role<A: Iam>(
    iam: &A,
    role: &RoleArn,
    with_policy: bool,
) -> Result<Option<ObservedRole>> {
    let Some(found) = iam.role(role.name()).await? else {
        return Ok(None);
    };
    if found.arn != role.to_string() {
        return Err(Error::Conflict {
            what: format!(
                "IAM role name {} is taken by {}, not {role}",
                role.name(),
                found.arn
            ),
            fix: "Nothing was changed. Pass that ARN, or another role name".into(),
        });
    }
    let unreadable = |what: &str, e: crate::core::trust::PolicyError| Error::Aws {
        operation: "GetRole".into(),
        message: format!("the {what} of {role} is unreadable: {e}"),
        fix: "Fix or replace that document by hand, then run again".into(),
    };
    let trust = parse_policy(&found.trust_policy).map_err(|e| unreadable("trust policy", e))?;
    let policies = if with_policy {
        iam.role_policies(role.name()).await?
    } else {
        Vec::new()
    };
    let inline = match policies.into_iter().find(|p| p.name == INLINE_POLICY) {
        Some(policy) => {
            Some(parse_policy(&policy.document).map_err(|e| unreadable(INLINE_POLICY, e))?)
        }
        None => None,
    };
    Ok(Some(ObservedRole { trust, inline }))
}

/// Reads what IAM has (reads only) and plans every write: the hub's OIDC provider, then the
/// management role, then the target roles (each trusts a role that must exist first).
async fn observe_and_plan<A: Iam>(
    accounts: &[Account<A>],
    caller: &str,
    report: &PolicyReport,
    notes: &mut Vec<String>,
) -> Result<Vec<PlanStep>> {
    let mut steps = Vec::new();
    let management = &report.roles[0].arn;
    let pod_identity = report.identity == IdentityMode::PodIdentity;
    if let Some(provider) = &report.oidc_provider {
        let account = &management.account;
        let subject = format!("IAM OIDC provider {}", provider.arn);
        let step = match iam_for(accounts, caller, account) {
            None => manual(account, subject, unreachable_detail(account, management)),
            Some(iam) if iam.oidc_providers().await?.contains(&provider.arn) => PlanStep {
                change: Change::Unchanged,
                account: account.clone(),
                subject,
                detail: format!("for {}", provider.url),
                write: None,
            },
            Some(_) => PlanStep {
                change: Change::Create,
                account: account.clone(),
                subject,
                detail: format!("for the hub's issuer {}", provider.url),
                write: Some(IamWrite::CreateOidcProvider {
                    issuer: provider.url.clone(),
                }),
            },
        };
        steps.push(step);
    }
    for role in &report.roles {
        let account = &role.arn.account;
        let Some(iam) = iam_for(accounts, caller, account) else {
            let detail = unreachable_detail(account, &role.arn);
            steps.push(manual(account, trust_subject(&role.arn), detail.clone()));
            for policy in &role.permission_policies {
                steps.push(manual(
                    account,
                    policy_subject(&role.arn, &policy.name),
                    detail.clone(),
                ));
            }
            continue;
        };
        let with_policy = role.kind == RoleKind::Management;
        let observed = observe_role(iam, &role.arn, with_policy).await?;
        steps.extend(plan_role(role, observed.as_ref(), pod_identity, notes));
    }
    Ok(steps)
}

fn trust_subject(role: &RoleArn) -> String {
    format!("role {role} trust policy")
}

fn policy_subject(role: &RoleArn, name: &str) -> String {
    format!("role {role} policy {name}")
}

fn manual(account: &str, subject: String, detail: String) -> PlanStep {
    PlanStep {
        change: Change::Manual,
        account: account.to_owned(),
        subject,
        detail,
        write: None,
    }
}

fn unreachable_detail(account: &str, role: &RoleArn) -> String {
    format!(
        "account {account} is not reachable with these credentials: run the aws commands below with credentials for it, or pass --assume-role arn:{}:iam::{account}:role/<a role there you may assume>",
        role.partition
    )
}

fn plan_role(
    role: &RolePolicies,
    observed: Option<&ObservedRole>,
    pod_identity: bool,
    notes: &mut Vec<String>,
) -> Vec<PlanStep> {
    let account = role.arn.account.clone();
    let name = role.arn.name().to_owned();
    let step = |change, subject, detail: String, write| PlanStep {
        change,
        account: account.clone(),
        subject,
        detail,
        write,
    };
    let mut steps = Vec::new();
    let statements = role.trust_policy.statements.len();
    match observed {
        None if role.arn.path_and_name.contains('/') => {
            let detail = "--create makes roles without a path: create this one with the aws commands below, then run again";
            steps.push(manual(&account, trust_subject(&role.arn), detail.into()));
            for policy in &role.permission_policies {
                steps.push(manual(
                    &account,
                    policy_subject(&role.arn, &policy.name),
                    detail.into(),
                ));
            }
            return steps;
        }
        None => {
            // IAM refuses a principal that does not exist yet: a role that trusts itself is
            // created without that statement, which is added right after.
            let (trust, then_trust) = if role.self_assume {
                let mut first = role.trust_policy.clone();
                first
                    .statements
                    .retain(|s| s.sid.as_deref() != Some("ArgoCdSelfAssume"));
                (first, Some(role.trust_policy.clone()))
            } else {
                (role.trust_policy.clone(), None)
            };
            let description = match role.kind {
                RoleKind::Management => "Argo CD management role (kubectl-argocd-eks)".to_owned(),
                RoleKind::Target => format!(
                    "Target role Argo CD assumes from {} (kubectl-argocd-eks)",
                    role_management_arn(role)
                ),
            };
            steps.push(step(
                Change::Create,
                trust_subject(&role.arn),
                format!("new role, trust policy with {statements} statement(s)"),
                Some(IamWrite::CreateRole {
                    name: name.clone(),
                    trust,
                    description,
                    then_trust,
                }),
            ));
        }
        Some(observed) => {
            let missing = missing_statements(&observed.trust, &role.trust_policy);
            if missing.is_empty() {
                steps.push(step(
                    Change::Unchanged,
                    trust_subject(&role.arn),
                    "already allows it".into(),
                    None,
                ));
            } else {
                let mut trust = observed.trust.clone();
                trust
                    .statements
                    .extend(missing.iter().map(|s| (*s).clone()));
                steps.push(step(
                    Change::Update,
                    trust_subject(&role.arn),
                    format!(
                        "add {} statement(s), keep the {} there",
                        missing.len(),
                        observed.trust.statements.len()
                    ),
                    Some(IamWrite::UpdateTrust {
                        name: name.clone(),
                        trust,
                    }),
                ));
            }
        }
    }
    let existing_inline = observed.and_then(|o| o.inline.as_ref());
    for policy in &role.permission_policies {
        let subject = policy_subject(&role.arn, &policy.name);
        let wanted_roles = assumable_roles(&policy.document);
        let Some(existing) = existing_inline else {
            steps.push(step(
                Change::Create,
                subject,
                format!("sts:AssumeRole on {} role(s)", wanted_roles.len()),
                Some(IamWrite::PutPolicy {
                    role: name.clone(),
                    document: policy.document.clone(),
                }),
            ));
            continue;
        };
        // Keep the roles it already may assume: clusters registered before still use them.
        let kept = assumable_roles(existing);
        let all: Vec<RoleArn> = kept.union(&wanted_roles).cloned().collect();
        let document =
            management_permissions(&all, pod_identity).unwrap_or_else(|| policy.document.clone());
        if same_policy(existing, &document) {
            steps.push(step(
                Change::Unchanged,
                subject,
                format!("sts:AssumeRole on {} role(s)", all.len()),
                None,
            ));
        } else {
            let new = wanted_roles.difference(&kept).count();
            steps.push(step(
                Change::Update,
                subject,
                format!(
                    "sts:AssumeRole on {} role(s), {new} of them new{}",
                    all.len(),
                    if kept.is_empty() {
                        ""
                    } else {
                        ", keeping the ones it had"
                    }
                ),
                Some(IamWrite::PutPolicy {
                    role: name.clone(),
                    document,
                }),
            ));
        }
    }
    if role.permission_policies.is_empty()
        && let Some(existing) = existing_inline
    {
        let roles: Vec<String> = assumable_roles(existing)
            .iter()
            .map(ToString::to_string)
            .collect();
        notes.push(format!(
            "role {} keeps its inline policy {INLINE_POLICY} (sts:AssumeRole on {}); direct mode does not need it: aws iam delete-role-policy --role-name {name} --policy-name {INLINE_POLICY}",
            role.arn,
            if roles.is_empty() { "nothing".to_owned() } else { roles.join(", ") }
        ));
    }
    steps
}

/// The management role a target role's trust names.
fn role_management_arn(role: &RolePolicies) -> String {
    role.trust_policy
        .statements
        .iter()
        .find_map(|s| match &s.principal {
            Some(Principal::Of(kinds)) => kinds
                .get("AWS")
                .and_then(|v| v.iter().next())
                .map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default()
}

// ---- apply and verify ----

async fn apply<A: Iam>(accounts: &[Account<A>], caller: &str, plan: &[PlanStep]) -> Result<()> {
    for step in plan {
        let Some(write) = &step.write else {
            continue;
        };
        let Some(iam) = iam_for(accounts, caller, &step.account) else {
            continue; // planned only for reachable accounts
        };
        match write {
            IamWrite::CreateOidcProvider { issuer } => {
                iam.create_oidc_provider(issuer).await?;
            }
            IamWrite::CreateRole {
                name,
                trust,
                description,
                then_trust,
            } => {
                iam.create_role(name, &trust.to_string(), description)
                    .await?;
                if let Some(trust) = then_trust {
                    iam.update_trust_policy(name, &trust.to_string()).await?;
                }
            }
            IamWrite::UpdateTrust { name, trust } => {
                iam.update_trust_policy(name, &trust.to_string()).await?
            }
            IamWrite::PutPolicy { role, document } => {
                iam.put_role_policy(role, INLINE_POLICY, &document.to_string())
                    .await?
            }
        }
    }
    Ok(())
}

/// Read back and plan again: after a successful apply there must be nothing left to write.
async fn verify<A: Iam>(
    accounts: &[Account<A>],
    caller: &str,
    report: &PolicyReport,
) -> Result<()> {
    let again = observe_and_plan(accounts, caller, report, &mut Vec::new()).await?;
    let left: Vec<String> = again
        .iter()
        .filter(|s| s.write.is_some())
        .map(|s| format!("{} ({})", s.subject, s.detail))
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(Error::VerifyFailed {
            what: left.join("; "),
            detail: "the read-back differs".into(),
        })
    }
}

// ---- output ----

fn write_document(
    out: &mut dyn std::io::Write,
    format: OutputFormat,
    report: &PolicyReport,
) -> Result<()> {
    match format {
        OutputFormat::Yaml => {
            let text = serde_saphyr::to_string(report).map_err(write_err)?;
            out.write_all(text.as_bytes()).map_err(write_err)
        }
        _ => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(write_err)?;
            writeln!(out).map_err(write_err)
        }
    }
}

fn write_header(out: &mut dyn std::io::Write, report: &PolicyReport) -> Result<()> {
    let hub = report.hub_cluster.as_ref().map_or_else(
        || "hub (EKS cluster unknown)".to_owned(),
        |arn| format!("hub {arn}"),
    );
    writeln!(
        out,
        "Argo CD in namespace {} on {hub}; service accounts: {}",
        report.argocd_namespace,
        report.service_accounts.join(", ")
    )
    .map_err(write_err)?;
    match &report.oidc_provider {
        Some(provider) => writeln!(
            out,
            "Identity: irsa (OIDC issuer {}, IAM OIDC provider {})",
            provider.url, provider.arn
        ),
        None => writeln!(out, "Identity: pod-identity (EKS Pod Identity agent)"),
    }
    .map_err(write_err)
}

fn write_plan(out: &mut dyn std::io::Write, plan: &[PlanStep]) -> Result<()> {
    writeln!(out, "\nPlan:").map_err(write_err)?;
    for step in plan {
        writeln!(
            out,
            "  {} {}  ({})",
            step.change.marker(),
            step.subject,
            step.detail
        )
        .map_err(write_err)?;
    }
    Ok(())
}

fn write_outcome(out: &mut dyn std::io::Write, report: &PolicyReport) -> Result<()> {
    let plan = report.plan.as_deref().unwrap_or_default();
    let count = |change| plan.iter().filter(|s| s.change == change).count();
    let summary = format!(
        "{} created, {} updated, {} unchanged",
        count(Change::Create),
        count(Change::Update),
        count(Change::Unchanged)
    );
    match report.outcome {
        Some("unchanged") => writeln!(out, "\nNothing to change ({summary})."),
        Some("applied") => writeln!(out, "\nApplied and read back: {summary}."),
        _ => writeln!(
            out,
            "\nDry run: nothing was changed (would create {}, update {}; {} unchanged).",
            count(Change::Create),
            count(Change::Update),
            count(Change::Unchanged)
        ),
    }
    .map_err(write_err)?;
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
        .is_some_and(|p| by_hand.contains(format!("IAM OIDC provider {}", p.arn).as_str()));
    if !manual_roles.is_empty() || provider_by_hand {
        writeln!(out, "\nTo do by hand:").map_err(write_err)?;
        for role in &manual_roles {
            write_role(out, report, role)?;
        }
        write_commands(out, report, &manual_roles, provider_by_hand)?;
    }
    write_notes(out, &report.notes)?;
    if report.outcome == Some("applied") {
        writeln!(
            out,
            "Argo CD's pods use the management role once their {} is set: kubectl argocd-eks add does that.",
            match report.identity {
                IdentityMode::Irsa => "service accounts' eks.amazonaws.com/role-arn annotation",
                IdentityMode::PodIdentity => "pod identity associations",
            }
        )
        .map_err(write_err)?;
    }
    Ok(())
}

fn write_notes(out: &mut dyn std::io::Write, notes: &[String]) -> Result<()> {
    for note in notes {
        writeln!(out, "note: {note}").map_err(write_err)?;
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

fn write_role(
    out: &mut dyn std::io::Write,
    report: &PolicyReport,
    role: &RolePolicies,
) -> Result<()> {
    let title = match (role.kind, role.self_assume) {
        (RoleKind::Management, false) => "Management role",
        (RoleKind::Management, true) => "Management role (also the target role)",
        (RoleKind::Target, _) => "Target role",
    };
    writeln!(out, "\n== {title} {} ==", role.arn).map_err(write_err)?;
    writeln!(out, "{}", role.purpose).map_err(write_err)?;
    writeln!(
        out,
        "\nTrust policy ({}):\n{:#}",
        file_name(report, &role.arn, "trust"),
        role.trust_policy
    )
    .map_err(write_err)?;
    for policy in &role.permission_policies {
        writeln!(
            out,
            "\nPermission policy {} ({}):\n{:#}",
            policy.name,
            file_name(report, &role.arn, "permissions"),
            policy.document
        )
        .map_err(write_err)?;
    }
    Ok(())
}

/// The aws CLI commands that make `roles` (and the OIDC provider), grouped by account.
fn write_commands(
    out: &mut dyn std::io::Write,
    report: &PolicyReport,
    roles: &[&RolePolicies],
    with_provider: bool,
) -> Result<()> {
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
            if role.self_assume {
                let mut first = role.trust_policy.clone();
                first
                    .statements
                    .retain(|s| s.sid.as_deref() != Some("ArgoCdSelfAssume"));
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
        writeln!(out, "{line}").map_err(write_err)?;
    }
    Ok(())
}

fn write_text(out: &mut dyn std::io::Write, report: &PolicyReport) -> Result<()> {
    write_header(out, report)?;
    for role in &report.roles {
        write_role(out, report, role)?;
    }
    let roles: Vec<&RolePolicies> = report.roles.iter().collect();
    write_commands(out, report, &roles, report.oidc_provider.is_some())?;
    writeln!(
        out,
        "\nOr let this tool make them: the same command with --create (it shows a plan first)."
    )
    .map_err(write_err)?;
    write_notes(out, &report.notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MGMT: &str = "arn:aws:iam::111122223333:role/argocd-management";
    const TARGET: &str = "arn:aws:iam::444455556666:role/argocd-deployer";

    fn role(text: &str) -> RoleArn {
        RoleArn::parse(text).unwrap()
    }

    fn provider() -> OidcProvider {
        let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC";
        OidcProvider {
            arn: oidc_provider_arn("aws", "111122223333", issuer),
            url: issuer.into(),
            client_ids: [STS_AUDIENCE],
        }
    }

    fn sas() -> Vec<SaRef> {
        vec![
            SaRef::new("argocd", "argocd-application-controller"),
            SaRef::new("argocd", "argocd-server"),
        ]
    }

    #[test]
    fn direct_mode_has_one_role_and_no_permission_policy() {
        let roles = wanted_roles(
            IdentityMode::Irsa,
            &role(MGMT),
            &[],
            Some(&provider()),
            None,
            &sas(),
        );
        assert_eq!(roles.len(), 1);
        assert!(roles[0].permission_policies.is_empty());
        assert!(!roles[0].self_assume);
    }

    #[test]
    fn a_target_equal_to_the_management_role_becomes_self_assume() {
        let mgmt = role(MGMT);
        let roles = wanted_roles(
            IdentityMode::PodIdentity,
            &mgmt,
            &[mgmt.clone(), role(TARGET), role(TARGET)],
            None,
            None,
            &sas(),
        );
        assert_eq!(roles.len(), 2);
        assert!(roles[0].self_assume);
        let statement = self_assume_statement(&mgmt, true);
        assert!(roles[0].trust_policy.statements.contains(&statement));
        let allowed = assumable_roles(&roles[0].permission_policies[0].document);
        assert_eq!(allowed, BTreeSet::from([mgmt, role(TARGET)]));
        assert_eq!(roles[1].kind, RoleKind::Target);
        assert_eq!(roles[1].trust_policy, target_role_trust(&role(MGMT), true));
    }

    #[test]
    fn same_meaning_is_same_policy() {
        let a = parse_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"X","Effect":"Allow","Action":["sts:TagSession","sts:AssumeRole"],"Resource":["{TARGET}","{MGMT}"]}}]}}"#
        ))
        .unwrap();
        let b = management_permissions(&[role(MGMT), role(TARGET)], true).unwrap();
        assert!(same_policy(&a, &b));
        let c = management_permissions(&[role(MGMT)], true).unwrap();
        assert!(!same_policy(&a, &c));
    }

    #[test]
    fn trust_updates_add_what_is_missing_and_keep_the_rest() {
        let wanted = target_role_trust(&role(MGMT), true);
        let other = target_role_trust(&role("arn:aws:iam::111122223333:role/other"), false);
        let plan = plan_role(
            &RolePolicies {
                arn: role(TARGET),
                kind: RoleKind::Target,
                self_assume: false,
                purpose: String::new(),
                trust_policy: wanted.clone(),
                permission_policies: Vec::new(),
            },
            Some(&ObservedRole {
                trust: other.clone(),
                inline: None,
            }),
            true,
            &mut Vec::new(),
        );
        let Some(IamWrite::UpdateTrust { trust, .. }) = &plan[0].write else {
            panic!("{plan:?}");
        };
        assert_eq!(trust.statements.len(), 2);
        assert!(trust.statements.contains(&other.statements[0]));
        assert!(missing_statements(trust, &wanted).is_empty());
    }

    #[test]
    fn self_assume_roles_are_created_first_without_trusting_themselves() {
        let mgmt = role(MGMT);
        let roles = wanted_roles(
            IdentityMode::Irsa,
            &mgmt,
            std::slice::from_ref(&mgmt),
            Some(&provider()),
            None,
            &sas(),
        );
        let plan = plan_role(&roles[0], None, false, &mut Vec::new());
        let Some(IamWrite::CreateRole {
            trust, then_trust, ..
        }) = &plan[0].write
        else {
            panic!("{plan:?}");
        };
        assert!(!trust.to_string().contains(MGMT));
        assert_eq!(then_trust.as_ref(), Some(&roles[0].trust_policy));
        assert_eq!(plan[1].change, Change::Create);
    }

    #[test]
    fn permission_updates_keep_roles_already_allowed() {
        let mgmt = role(MGMT);
        let old = role("arn:aws:iam::444455556666:role/old");
        let roles = wanted_roles(
            IdentityMode::Irsa,
            &mgmt,
            &[role(TARGET)],
            Some(&provider()),
            None,
            &sas(),
        );
        let observed = ObservedRole {
            trust: roles[0].trust_policy.clone(),
            inline: management_permissions(std::slice::from_ref(&old), false),
        };
        let plan = plan_role(&roles[0], Some(&observed), false, &mut Vec::new());
        assert_eq!(plan[0].change, Change::Unchanged);
        let Some(IamWrite::PutPolicy { document, .. }) = &plan[1].write else {
            panic!("{plan:?}");
        };
        assert_eq!(
            assumable_roles(document),
            BTreeSet::from([old, role(TARGET)])
        );
        let again = ObservedRole {
            trust: roles[0].trust_policy.clone(),
            inline: Some(document.clone()),
        };
        let plan = plan_role(&roles[0], Some(&again), false, &mut Vec::new());
        assert!(
            plan.iter().all(|s| s.change == Change::Unchanged),
            "{plan:?}"
        );
    }
}
