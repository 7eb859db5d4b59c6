//! `policy`: the IAM trust and permission policies of Argo CD's management role and of its
//! target roles, built from the hub's real OIDC issuer and service accounts; printed, or with
//! `--create` made: observe -> plan -> show -> confirm -> apply -> verify, like `add`.

use crate::cli::args::DryRun;
use crate::cli::output::policy::{ExistingRole, PolicyPlan, PolicyReport};
use crate::cli::output::{Outcome, emit, show};
use crate::cli::settings::{IdentityChoice, PolicySettings, Settings};
use crate::commands::Ports;
use crate::commands::accounts::Accounts;
use crate::commands::nothing_left;
use crate::commands::targets::{
    Regions, argocd_namespace, auto_identity, find_hub_cluster, search_regions,
};
use crate::core::model::{ClusterArn, EksCluster, IdentityMode, RoleArn};
use crate::core::policy::document::{PolicyError, STS_AUDIENCE, parse_policy};
use crate::core::policy::generate::{
    INLINE_POLICY, NamedPolicy, OidcProvider, RoleKind, argocd_service_accounts, oidc_provider_arn,
    wanted_roles,
};
use crate::core::policy::plan::{
    Change, IamAction, ObservedRole, PlanStep, manual_role, plan_oidc_provider, plan_role,
    policy_subject, trust_subject, unreachable_detail,
};
use crate::error::{Error, Result};
use crate::ports::{CallerIdentity, EksRead, HubContext, HubRead, IamRead, IamWrite, Prompt};

/// The management role's name when `--management-role-arn` is not given.
pub(crate) const DEFAULT_MANAGEMENT_ROLE: &str = "argocd-management";

pub(crate) async fn run<H: HubRead, A: EksRead + IamRead + IamWrite, P: Prompt>(
    settings: &Settings,
    policy: &PolicySettings,
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let hub_eks = ports.accounts.own();
    let mut notes = Vec::new();
    let namespace = argocd_namespace(ports.hub, settings).await?;
    let present: Vec<String> = ports
        .hub
        .service_accounts(&namespace)
        .await?
        .into_iter()
        .map(|sa| sa.name)
        .collect();
    let service_accounts = argocd_service_accounts(&namespace, &present, &mut notes);

    let context = ports.hub.context();
    let regions = hub_regions(context, &settings.aws.regions, default_region)?;
    let hub_arn =
        find_hub_cluster(context, hub_eks, policy.hub_cluster.as_deref(), &regions).await?;
    let hub = match &hub_arn {
        Some(arn) => hub_eks.describe_cluster(&arn.region, &arn.name).await?,
        None => None,
    };
    let mode = match policy.identity {
        IdentityChoice::Fixed(mode) => mode,
        IdentityChoice::Auto => auto_identity(ports.hub, hub_eks, hub_arn.as_ref()).await?,
    };

    // The caller's account: the default management role's, and the one --create writes with.
    let caller = if policy.management_role.is_none() || policy.create {
        Some(hub_eks.caller().await?)
    } else {
        None
    };
    let management = match (&policy.management_role, &caller) {
        (Some(role), _) => role.clone(),
        (None, Some(caller)) => default_management_role(caller)?,
        (None, None) => unreachable!("the caller is read when no management role is given"),
    };

    let oidc_provider = match mode {
        IdentityMode::Irsa => Some(irsa_provider(
            context,
            hub.as_ref(),
            hub_arn.as_ref(),
            &management,
        )?),
        // `policy` only offers irsa and pod-identity; the capability's role is made by EKS.
        IdentityMode::Capability => None,
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
        existing: Vec::new(),
        notes,
    };
    if !policy.create {
        // Roles that exist get their documents as they should become, not replaced: read them
        // where this run can (reads only; what cannot be read is printed as for a new role).
        let caller_account = match &caller {
            Some(caller) => Some(caller.account.clone()),
            None => hub_eks.caller().await.ok().map(|c| c.account),
        };
        if let Some(caller) = caller_account {
            report.existing = existing_roles(ports.accounts, &caller, &report).await;
        }
        return emit(out, settings.output, &report);
    }

    let caller_account = caller.map(|c| c.account).unwrap_or_default();
    let accounts = ports.accounts;
    let mut plan_notes = Vec::new();
    let plan = observe_and_plan(accounts, &caller_account, &report, &mut plan_notes).await?;
    report.notes.extend(plan_notes);
    let writes = plan.iter().any(|s| s.write.is_some());
    show(
        out,
        settings.output,
        &PolicyPlan {
            report: &report,
            steps: &plan,
        },
    )?;
    let outcome = if !writes {
        Outcome::Unchanged
    } else if settings.dry_run != DryRun::None {
        Outcome::DryRun
    } else {
        if !settings.yes && !ports.prompt.confirm("Apply these changes?")? {
            return Err(Error::Cancelled);
        }
        apply(accounts, &caller_account, &plan).await?;
        verify(accounts, &caller_account, &report).await?;
        Outcome::Applied
    };
    report.plan = Some(plan);
    report.outcome = Some(outcome);
    emit(out, settings.output, &report)
}

// ---- observe the hub ----

/// The regions to look for the hub in; none are needed when the context names its EKS ARN.
fn hub_regions(
    context: &HubContext,
    flags: &[String],
    default_region: Option<&str>,
) -> Result<Regions> {
    search_regions(flags, false, default_region).or_else(|error| {
        let arn = context.cluster_arn().ok_or(error)?;
        search_regions(&[arn.region], false, None)
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
fn default_management_role(caller: &CallerIdentity) -> Result<RoleArn> {
    RoleArn::parse(&format!(
        "arn:{}:iam::{}:role/{DEFAULT_MANAGEMENT_ROLE}",
        caller.partition(),
        caller.account
    ))
    .map_err(|e| Error::usage(format!("{e}; pass --management-role-arn")))
}

// ---- observe IAM and plan ----

/// The inline policy is read only for `with_policy` (a target role needs none).
async fn observe_role<A: IamRead>(
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
    let unreadable = |what: &str, e: PolicyError| Error::Aws {
        operation: "GetRole".into(),
        message: format!("the {what} of {role} is unreadable: {e}"),
        fix: "Fix or replace that document by hand, then run again".into(),
        source: Some(Box::new(e)),
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
async fn observe_and_plan<A: IamRead>(
    accounts: &Accounts<A>,
    caller: &str,
    report: &PolicyReport,
    notes: &mut Vec<String>,
) -> Result<Vec<PlanStep>> {
    let mut steps = Vec::new();
    let management = &report.roles[0].arn;
    let pod_identity = report.identity == IdentityMode::PodIdentity;
    if let Some(provider) = &report.oidc_provider {
        let exists = match accounts.reaching(&management.account, Some(caller)) {
            Some(iam) => Some(iam.oidc_providers().await?.contains(&provider.arn)),
            None => None,
        };
        steps.push(plan_oidc_provider(provider, management, exists));
    }
    for role in &report.roles {
        let account = &role.arn.account;
        let Some(iam) = accounts.reaching(account, Some(caller)) else {
            steps.extend(manual_role(role, &unreachable_detail(account, &role.arn)));
            continue;
        };
        let with_policy = role.kind == RoleKind::Management;
        let observed = observe_role(iam, &role.arn, with_policy).await?;
        steps.extend(plan_role(role, observed.as_ref(), pod_identity, notes));
    }
    Ok(steps)
}

/// The roles of `report` that exist, with the documents `--create` would write to them.
async fn existing_roles<A: IamRead>(
    accounts: &Accounts<A>,
    caller: &str,
    report: &PolicyReport,
) -> Vec<ExistingRole> {
    let Ok(plan) = observe_and_plan(accounts, caller, report, &mut Vec::new()).await else {
        return Vec::new();
    };
    let step = |subject: &str| plan.iter().find(|s| s.subject == subject);
    let mut existing = Vec::new();
    for role in &report.roles {
        let Some(trust) = step(&trust_subject(&role.arn)) else {
            continue;
        };
        let trust_policy = match (&trust.change, &trust.write) {
            (Change::Unchanged, _) => None,
            (Change::Update, Some(IamAction::UpdateTrust { trust, .. })) => Some(trust.clone()),
            _ => continue, // a role to create, or one left to the user
        };
        let permission_policy = role.permission_policies.iter().find_map(|policy| {
            match &step(&policy_subject(&role.arn, &policy.name))?.write {
                Some(IamAction::PutPolicy { document, .. }) => Some(NamedPolicy {
                    name: policy.name.clone(),
                    document: document.clone(),
                }),
                _ => None,
            }
        });
        existing.push(ExistingRole {
            arn: role.arn.clone(),
            trust_policy,
            permission_policy,
        });
    }
    existing
}

// ---- apply and verify ----

async fn apply<A: IamWrite>(accounts: &Accounts<A>, caller: &str, plan: &[PlanStep]) -> Result<()> {
    for step in plan {
        let Some(write) = &step.write else {
            continue;
        };
        let Some(iam) = accounts.reaching(&step.account, Some(caller)) else {
            continue; // planned only for reachable accounts
        };
        match write {
            IamAction::CreateOidcProvider { issuer } => {
                iam.create_oidc_provider(issuer).await?;
            }
            IamAction::CreateRole {
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
            IamAction::UpdateTrust { name, trust } => {
                iam.update_trust_policy(name, &trust.to_string()).await?;
            }
            IamAction::PutPolicy { role, document } => {
                iam.put_role_policy(role, INLINE_POLICY, &document.to_string())
                    .await?;
            }
        }
    }
    Ok(())
}

/// Read back and plan again: after a successful apply there must be nothing left to write.
async fn verify<A: IamRead>(
    accounts: &Accounts<A>,
    caller: &str,
    report: &PolicyReport,
) -> Result<()> {
    let again = observe_and_plan(accounts, caller, report, &mut Vec::new()).await?;
    nothing_left(
        &again
            .iter()
            .filter(|s| s.write.is_some())
            .map(|s| format!("{} ({})", s.subject, s.detail))
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use crate::commands::accounts::Accounts;
    use crate::error::{Error, Result};
    use crate::testing::{FakeAws, FakeHub, FakePrompt, run_tool};

    const ACCOUNT: &str = "123456789012";
    const TARGET: &str = "arn:aws:iam::123456789012:role/argocd-deployer";

    async fn policy(
        hub: &FakeHub,
        accounts: &Accounts<FakeAws>,
        args: &[&str],
    ) -> (Result<()>, String) {
        let all = [
            &[
                "policy",
                "--argocd-namespace",
                "argocd",
                "--region",
                "us-east-1",
            ],
            args,
        ]
        .concat();
        run_tool(hub, accounts, &FakePrompt::default(), &all, false).await
    }

    #[tokio::test]
    async fn printing_the_policies_writes_nothing() {
        let hub = FakeHub::with_argocd("argocd");
        let accounts = Accounts::new(FakeAws::in_account(ACCOUNT, Vec::new()));
        let (result, out) = policy(
            &hub,
            &accounts,
            &["--identity", "pod-identity", "--role-arn", TARGET],
        )
        .await;
        result.unwrap();
        assert!(
            out.contains("== Management role arn:aws:iam::123456789012:role/argocd-management =="),
            "{out}"
        );
        assert!(
            out.contains("pods.eks.amazonaws.com") && out.contains("== Target role"),
            "{out}"
        );
        assert!(
            out.contains("aws iam create-role --role-name argocd-deployer"),
            "{out}"
        );
        assert!(accounts.own().writes.borrow().is_empty());
    }

    #[tokio::test]
    async fn create_makes_the_roles_and_a_second_run_changes_nothing() {
        let hub = FakeHub::with_argocd("argocd");
        let accounts = Accounts::new(FakeAws::in_account(ACCOUNT, Vec::new()));
        let args = [
            "--identity",
            "pod-identity",
            "--role-arn",
            TARGET,
            "--create",
            "--yes",
        ];
        let (result, out) = policy(&hub, &accounts, &args).await;
        result.unwrap();
        assert!(
            out.contains(
                "  + create    role arn:aws:iam::123456789012:role/argocd-management trust policy"
            ),
            "{out}"
        );
        assert!(
            out.contains("Applied and read back: 3 created, 0 updated, 0 unchanged."),
            "{out}"
        );
        assert_eq!(
            *accounts.own().writes.borrow(),
            [
                "create role argocd-management",
                "put policy kubectl-argocd-eks on argocd-management",
                "create role argocd-deployer"
            ]
        );
        let (again, out) = policy(&hub, &accounts, &args).await;
        again.unwrap();
        assert!(
            out.contains("Nothing to change (0 created, 0 updated, 3 unchanged)."),
            "{out}"
        );
        assert_eq!(accounts.own().writes.borrow().len(), 3);
    }

    #[tokio::test]
    async fn a_dry_run_plans_without_writing_and_a_taken_name_is_a_conflict() {
        let hub = FakeHub::with_argocd("argocd");
        let accounts = Accounts::new(FakeAws::in_account(ACCOUNT, Vec::new()));
        let (result, out) = policy(
            &hub,
            &accounts,
            &[
                "--identity",
                "pod-identity",
                "--create",
                "--dry-run",
                "-o",
                "json",
            ],
        )
        .await;
        result.unwrap();
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["outcome"], "dry-run");
        assert!(accounts.own().writes.borrow().is_empty());

        accounts.own().roles.borrow_mut().insert(
            "argocd-management".into(),
            crate::testing::FakeRole {
                arn: "arn:aws:iam::123456789012:role/teams/argocd-management".into(),
                trust: "{\"Version\":\"2012-10-17\",\"Statement\":[]}".into(),
                ..Default::default()
            },
        );
        let (result, _) = policy(
            &hub,
            &accounts,
            &["--identity", "pod-identity", "--create", "--yes"],
        )
        .await;
        assert!(matches!(result, Err(Error::Conflict { .. })), "{result:?}");
        assert!(accounts.own().writes.borrow().is_empty());
    }

    #[tokio::test]
    async fn irsa_without_a_known_hub_names_the_flag() {
        let hub = FakeHub::with_argocd("argocd");
        let accounts = Accounts::new(FakeAws::in_account(ACCOUNT, Vec::new()));
        let (result, _) = policy(&hub, &accounts, &["--identity", "irsa"]).await;
        let error = result.unwrap_err();
        assert!(error.to_string().contains("--hub-cluster"), "{error}");
    }
}
