//! The roles question of `add`: the account's roles whose trust fits (marked with what they
//! allow), "create a new role" (the plan and confirmation of `policy --create`, then `add` goes
//! on with it) or an ARN typed in; for the management role and for a target role in another
//! account the credentials reach.

use std::collections::BTreeSet;

use crate::cli::args::OutputFormat;
use crate::cli::settings::{AddSettings, IdentityChoice, PolicySettings, Settings};
use crate::commands::Ports;
use crate::commands::policy::DEFAULT_MANAGEMENT_ROLE;
use crate::core::model::{EksCluster, IdentityMode, RoleArn, SaRef};
use crate::core::policy::fit::{Fit, Want, fitting_roles};
use crate::core::policy::generate::argocd_service_accounts;
use crate::error::{Error, Result};
use crate::ports::{EksRead, HubRead, IamRead, IamRole, IamWrite, Prompt, Reply};

use super::guided::Start;

/// The target role's name `add` offers to create.
const DEFAULT_TARGET_ROLE: &str = "argocd-deployer";

/// What a role question works from.
pub(super) struct RoleStep<'a> {
    pub(super) settings: &'a Settings,
    pub(super) add: &'a AddSettings,
    pub(super) start: &'a Start<'a>,
    pub(super) mode: IdentityMode,
}

/// One line of the roles menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RoleChoice {
    /// Direct mode (target roles only): no role to assume.
    None,
    Existing(RoleArn),
    /// Create a role called `name` in `account`.
    Create {
        account: String,
        name: String,
    },
    /// Type an ARN.
    Enter,
}

/// The menu: its lines as shown, what each means, and the one Enter takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleMenu {
    pub(crate) items: Vec<String>,
    pub(crate) choices: Vec<RoleChoice>,
    pub(crate) default: usize,
}

/// The roles menu (pure). `current`: the role in use now; `create`: (account, free name) where
/// a new role can be made; `direct`: offer "none" (a target role) first, as the default.
pub(crate) fn role_menu(
    fits: &[Fit],
    current: Option<&str>,
    create: &[(String, String)],
    direct: bool,
) -> RoleMenu {
    let mut menu = RoleMenu {
        items: Vec::new(),
        choices: Vec::new(),
        default: 0,
    };
    if direct {
        menu.items
            .push("none: direct mode (the management role itself gets access)".into());
        menu.choices.push(RoleChoice::None);
    }
    for fit in fits {
        let now = if current == Some(fit.arn.to_string().as_str()) {
            ", used now"
        } else {
            ""
        };
        let sure = if fit.certain { "" } else { "?? " };
        menu.items.push(format!(
            "{} in {}: {sure}allows {}{now}",
            fit.arn.name(),
            fit.arn.account,
            fit.allows
        ));
        menu.choices.push(RoleChoice::Existing(fit.arn.clone()));
    }
    for (account, name) in create {
        menu.items.push(format!(
            "create a new role {name} in {account} (the plan comes first)"
        ));
        menu.choices.push(RoleChoice::Create {
            account: account.clone(),
            name: name.clone(),
        });
    }
    menu.items.push("enter a role ARN".into());
    menu.choices.push(RoleChoice::Enter);
    let position = |wanted: &dyn Fn(&RoleChoice) -> bool| menu.choices.iter().position(wanted);
    menu.default = if direct {
        0
    } else {
        position(&|c| matches!(c, RoleChoice::Existing(arn) if Some(arn.to_string().as_str()) == current))
            .or_else(|| {
                fits.iter()
                    .position(|f| f.certain)
                    .and_then(|i| position(&|c| *c == RoleChoice::Existing(fits[i].arn.clone())))
            })
            .or_else(|| position(&|c| matches!(c, RoleChoice::Create { .. })))
            .unwrap_or(0)
    };
    menu
}

/// `preferred`, or `preferred-2`, `-3`... : the first name no role of `roles` has.
pub(crate) fn free_name(roles: &[IamRole], preferred: &str) -> String {
    let taken: BTreeSet<&str> = roles
        .iter()
        .filter_map(|r| r.arn.rsplit('/').next())
        .collect();
    std::iter::once(preferred.to_owned())
        .chain((2..).map(|n| format!("{preferred}-{n}")))
        .find(|name| !taken.contains(name.as_str()))
        .unwrap_or_else(|| preferred.to_owned())
}

fn validate_role(answer: &str) -> std::result::Result<(), String> {
    RoleArn::parse(answer)
        .map(|_| ())
        .map_err(|e| format!("{e}; e.g. arn:aws:iam::123456789012:role/argocd-management"))
}

/// Argo CD's service accounts in its namespace, as `policy` writes the trust for them.
async fn service_accounts<H: HubRead>(hub: &H, namespace: &str) -> Result<Vec<SaRef>> {
    let present: Vec<String> = hub
        .service_accounts(namespace)
        .await?
        .into_iter()
        .map(|sa| sa.name)
        .collect();
    Ok(argocd_service_accounts(
        namespace,
        &present,
        &mut Vec::new(),
    ))
}

/// The role Argo CD's pods run as now (its service accounts' annotation or associations).
async fn current_role<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &RoleStep<'_>,
) -> Result<Option<String>> {
    Ok(match (step.mode, step.start.hub_cluster) {
        (IdentityMode::PodIdentity, Some(cluster)) => ports
            .accounts
            .own()
            .pod_identity_associations(cluster, step.start.namespace)
            .await?
            .into_iter()
            .map(|a| a.role_arn)
            .next(),
        _ => ports
            .hub
            .service_accounts(step.start.namespace)
            .await?
            .into_iter()
            .find_map(|sa| sa.irsa_role),
    })
}

/// The hub's OIDC issuer (IRSA's trust names it), when the hub's cluster is known.
async fn hub_issuer<H: HubRead, E: EksRead, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &RoleStep<'_>,
) -> Option<String> {
    let hub = match step.start.hub_cluster {
        Some(arn) => Some(arn.clone()),
        None => crate::commands::targets::find_hub_cluster(
            ports.hub.context(),
            ports.accounts.own(),
            step.add.hub_cluster.as_deref(),
            step.start.regions,
        )
        .await
        .ok()
        .flatten(),
    }?;
    let cluster = ports
        .accounts
        .own()
        .describe_cluster(&hub.region, &hub.name)
        .await
        .ok()??;
    cluster.oidc_issuer
}

/// Roles of an account; when they cannot be listed, none (the menu still offers create/enter).
async fn list_roles<E: IamRead>(iam: &E, account: &str) -> Vec<IamRole> {
    match iam.list_roles().await {
        Ok(roles) => roles,
        Err(e) => {
            eprintln!("Could not list the IAM roles of account {account} ({e}): none offered.");
            Vec::new()
        }
    }
}

/// The management role: a fitting role, a new one, or one typed in.
pub(super) async fn ask_management_role<H: HubRead, E: EksRead + IamRead + IamWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &RoleStep<'_>,
    out: &mut dyn std::io::Write,
) -> Result<Reply<RoleArn>> {
    let own = ports.accounts.own();
    let caller = own.caller().await?;
    let roles = list_roles(own, &caller.account).await;
    let sas = service_accounts(ports.hub, step.start.namespace).await?;
    let issuer = match step.mode {
        IdentityMode::Irsa => hub_issuer(ports, step).await,
        _ => None,
    };
    let want = match (&issuer, step.mode) {
        (Some(issuer), IdentityMode::Irsa) => Some(Want::Irsa {
            issuer,
            service_accounts: &sas,
        }),
        (_, IdentityMode::PodIdentity) => Some(Want::PodIdentity {
            hub: step.start.hub_cluster,
            service_accounts: &sas,
            tags: true,
        }),
        _ => None,
    };
    let fits = want.map_or_else(Vec::new, |want| fitting_roles(&roles, &want));
    let current = current_role(ports, step).await?;
    let create = vec![(
        caller.account.clone(),
        free_name(&roles, DEFAULT_MANAGEMENT_ROLE),
    )];
    let menu = role_menu(&fits, current.as_deref(), &create, false);
    loop {
        let question = "Management role (the role Argo CD's pods run as)";
        let Reply::Answer(picked) =
            ports
                .prompt
                .pick_one(question, "--management-role-arn", &menu.items, menu.default)?
        else {
            return Ok(Reply::Back);
        };
        let made = match menu.choices.get(picked) {
            Some(RoleChoice::Existing(arn)) => Some(arn.clone()),
            Some(RoleChoice::Create { account, name }) => {
                let arn = role_arn(caller.partition(), account, name)?;
                create_roles(ports, step, &arn, &[], out)
                    .await?
                    .then_some(arn)
            }
            _ => typed_role(ports.prompt, "--management-role-arn", current.as_deref())?,
        };
        if let Some(role) = made {
            return Ok(Reply::Answer(role));
        }
    }
}

/// The target role (chained mode), or none (direct mode).
pub(super) async fn ask_target_role<H: HubRead, E: EksRead + IamRead + IamWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &RoleStep<'_>,
    management: &RoleArn,
    clusters: &[EksCluster],
    out: &mut dyn std::io::Write,
) -> Result<Reply<Option<RoleArn>>> {
    let sas = service_accounts(ports.hub, step.start.namespace).await?;
    let want = Want::Target {
        management,
        pod_identity: step.mode == IdentityMode::PodIdentity,
        hub: step.start.hub_cluster,
        service_accounts: &sas,
    };
    let caller = ports.accounts.own().caller().await?;
    let accounts: BTreeSet<&str> = clusters.iter().map(|c| c.arn.account.as_str()).collect();
    let (mut fits, mut create) = (Vec::new(), Vec::new());
    for account in accounts {
        // Only accounts these credentials reach (their own, or an --assume-role one).
        let Some(iam) = ports.accounts.reaching(account, Some(&caller.account)) else {
            continue;
        };
        let roles = list_roles(iam, account).await;
        fits.extend(
            fitting_roles(&roles, &want)
                .into_iter()
                .filter(|f| f.arn != *management),
        );
        if account != management.account {
            create.push((account.to_owned(), free_name(&roles, DEFAULT_TARGET_ROLE)));
        }
    }
    let menu = role_menu(&fits, None, &create, true);
    loop {
        let question = "Target role to assume in the cluster's account (chained mode)";
        let Reply::Answer(picked) =
            ports
                .prompt
                .pick_one(question, "--role-arn", &menu.items, menu.default)?
        else {
            return Ok(Reply::Back);
        };
        let made = match menu.choices.get(picked) {
            Some(RoleChoice::None) => return Ok(Reply::Answer(None)),
            Some(RoleChoice::Existing(arn)) => Some(arn.clone()),
            Some(RoleChoice::Create { account, name }) => {
                let arn = role_arn(&management.partition, account, name)?;
                let targets = [arn.clone()];
                create_roles(ports, step, management, &targets, out)
                    .await?
                    .then_some(arn)
            }
            _ => typed_role(ports.prompt, "--role-arn", None)?,
        };
        if let Some(role) = made {
            return Ok(Reply::Answer(Some(role)));
        }
    }
}

fn role_arn(partition: &str, account: &str, name: &str) -> Result<RoleArn> {
    RoleArn::parse(&format!("arn:{partition}:iam::{account}:role/{name}"))
        .map_err(|e| Error::usage(e.to_string()))
}

/// An ARN typed in; a refused one is asked again with the reason and the text kept. None: Esc.
fn typed_role<P: Prompt>(prompt: &P, flag: &str, default: Option<&str>) -> Result<Option<RoleArn>> {
    match prompt.text("Role ARN", flag, default, &validate_role)? {
        Reply::Answer(answer) => RoleArn::parse(&answer)
            .map(Some)
            .map_err(|e| Error::usage(e.to_string())),
        Reply::Back => Ok(None),
    }
}

/// `policy --create` for `management` (and `targets`): its plan, its confirmation, its writes.
/// False when the user said no there (back to the menu); the roles exist when true.
async fn create_roles<H: HubRead, E: EksRead + IamRead + IamWrite, P: Prompt>(
    ports: &Ports<'_, H, E, P>,
    step: &RoleStep<'_>,
    management: &RoleArn,
    targets: &[RoleArn],
    out: &mut dyn std::io::Write,
) -> Result<bool> {
    let policy = PolicySettings {
        identity: IdentityChoice::Fixed(step.mode),
        management_role: Some(management.clone()),
        target_roles: targets.to_vec(),
        hub_cluster: step
            .add
            .hub_cluster
            .clone()
            .or_else(|| step.start.hub_cluster.map(|c| c.name.clone())),
        create: true,
    };
    // The plan is for the person at the terminal: text, and off stdout when stdout is a document.
    let mut settings = step.settings.clone();
    let to_stderr = settings.output != OutputFormat::Text;
    settings.output = OutputFormat::Text;
    let mut stderr = std::io::stderr();
    let out: &mut dyn std::io::Write = if to_stderr { &mut stderr } else { out };
    let ports = Ports {
        hub: ports.hub,
        accounts: ports.accounts,
        prompt: ports.prompt,
    };
    match crate::commands::policy::run(&settings, &policy, ports, step.start.default_region, out)
        .await
    {
        Ok(()) => Ok(true),
        Err(Error::Cancelled) => {
            eprintln!("Nothing was created; pick another role.");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(name: &str, certain: bool) -> Fit {
        Fit {
            arn: RoleArn::parse(&format!("arn:aws:iam::123456789012:role/{name}")).unwrap(),
            allows: "pod identity (AssumeRole + TagSession)".into(),
            certain,
        }
    }

    fn create() -> Vec<(String, String)> {
        vec![("123456789012".into(), "argocd-management".into())]
    }

    #[test]
    fn with_no_role_that_fits_enter_creates_one() {
        let menu = role_menu(&[], None, &create(), false);
        assert_eq!(
            menu.items,
            [
                "create a new role argocd-management in 123456789012 (the plan comes first)",
                "enter a role ARN"
            ]
        );
        assert!(matches!(
            menu.choices[menu.default],
            RoleChoice::Create { .. }
        ));
    }

    #[test]
    fn the_role_in_use_is_the_default_then_a_certain_fit() {
        let fits = [fit("maybe", false), fit("sure", true), fit("used", true)];
        let used = "arn:aws:iam::123456789012:role/used";
        let menu = role_menu(&fits, Some(used), &create(), false);
        assert_eq!(menu.default, 2);
        assert!(menu.items[2].ends_with(", used now"), "{:?}", menu.items);
        assert!(menu.items[0].contains(": ?? allows"), "{:?}", menu.items);
        let menu = role_menu(&fits, None, &create(), false);
        assert_eq!(menu.default, 1);
    }

    #[test]
    fn a_target_role_defaults_to_direct_mode() {
        let menu = role_menu(&[fit("deployer", true)], None, &create(), true);
        assert_eq!(menu.choices[0], RoleChoice::None);
        assert_eq!(menu.default, 0);
        assert_eq!(menu.choices.len(), 4);
    }

    #[test]
    fn a_new_roles_name_is_one_no_role_has() {
        let role = |name: &str| IamRole {
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
            trust_policy: String::new(),
        };
        assert_eq!(free_name(&[], "argocd-management"), "argocd-management");
        let roles = [role("argocd-management"), role("argocd-management-2")];
        assert_eq!(
            free_name(&roles, "argocd-management"),
            "argocd-management-3"
        );
    }
}
