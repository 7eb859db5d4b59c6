//! `add`: observe -> plan -> show -> confirm -> apply -> verify, for one or more target clusters.

use std::collections::BTreeSet;

use crate::cli::args::{DryRun, OutputFormat};
use crate::cli::output::{AddReport, restart_command, write_document, write_outcome};
use crate::cli::settings::{AddSettings, IdentityChoice, Settings, TargetRef};
use crate::core::model::{
    ClusterArn, EksCluster, IRSA_ANNOTATION, IdentityMode, POD_IDENTITY_AGENT_ADDON,
};
use crate::core::plan::{Change, HubIdentity, Observed, Plan, PlanError, Registration, Step, plan};
use crate::core::secret::default_secret_name;
use crate::error::{Error, Result};
use crate::ports::{Eks, Hub, HubContext, Prompt, Write};

/// The ports `add` works through.
pub struct Ports<'a, H, E, P> {
    pub hub: &'a H,
    pub eks: &'a E,
    pub prompt: &'a P,
}

pub async fn run<H: Hub, E: Eks, P: Prompt>(
    settings: &Settings,
    add: &AddSettings,
    ports: Ports<'_, H, E, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let regions = search_regions(&settings.regions, default_region)?;
    let needs_hub_cluster = add.identity != IdentityChoice::Fixed(IdentityMode::Irsa);
    let hub_cluster = if needs_hub_cluster {
        find_hub_cluster(
            ports.hub.context(),
            ports.eks,
            add.hub_cluster.as_deref(),
            &regions,
        )
        .await?
    } else {
        None
    };
    let mode = match add.identity {
        IdentityChoice::Fixed(mode) => mode,
        IdentityChoice::Auto => auto_identity(ports.eks, hub_cluster.as_ref()).await?,
    };
    let mut registrations = Vec::with_capacity(add.targets.len());
    for target in &add.targets {
        registrations.push(Registration {
            cluster: find_target(ports.eks, target, &regions).await?,
            target_role: add.target_role.clone(),
            secret: add.secret.clone(),
        });
    }
    let identity = HubIdentity {
        namespace: add.secret.namespace.clone(),
        management_role: add.management_role.clone(),
        mode,
        hub_cluster,
        replace_identity: add.replace_identity,
    };

    let observed = observe(ports.hub, ports.eks, &identity, &registrations).await?;
    let plan = plan(&identity, &registrations, &observed).map_err(plan_error)?;
    let text = settings.output == OutputFormat::Text;
    if text {
        crate::cli::output::write_plan(out, &plan)?;
    }

    let outcome = if plan.is_noop() {
        "unchanged"
    } else {
        match settings.dry_run {
            DryRun::Client => "dry-run-client",
            DryRun::Server => {
                apply(ports.hub, ports.eks, &plan, Write::ServerDryRun).await?;
                "dry-run-server"
            }
            DryRun::None => {
                if !settings.yes && !ports.prompt.confirm("Apply these changes?")? {
                    return Err(Error::Cancelled);
                }
                apply(ports.hub, ports.eks, &plan, Write::Real).await?;
                verify(ports.hub, ports.eks, &identity, &registrations).await?;
                "applied"
            }
        }
    };
    let report = AddReport {
        plan: &plan,
        outcome,
        restart_needed: outcome == "applied" && plan.needs_restart(),
        restart_command: Some(restart_command(&identity.namespace)),
    };
    if text {
        write_outcome(out, &report)?;
    } else {
        write_document(out, settings.output, &report)?;
    }
    std::io::Write::flush(out).map_err(|e| Error::Output(e.to_string()))
}

fn plan_error(error: PlanError) -> Error {
    let message = error.to_string();
    match error {
        PlanError::SecretNameTaken { .. }
        | PlanError::AlreadyRegistered { .. }
        | PlanError::IdentityInUse { .. } => Error::Conflict {
            what: message,
            fix: "Nothing was changed".into(),
        },
        PlanError::ServiceAccountMissing { .. } => Error::NotFound {
            what: message,
            fix: "Nothing was changed".into(),
        },
        PlanError::HubClusterUnknown => Error::Usage(message),
    }
}

/// The regions to look for clusters named without an ARN.
fn search_regions(flags: &[String], default_region: Option<&str>) -> Result<Vec<String>> {
    if !flags.is_empty() {
        return Ok(flags.to_vec());
    }
    default_region
        .map(|region| vec![region.to_owned()])
        .ok_or_else(|| {
            Error::usage(
                "no AWS region is set: pass --region REGION (or set AWS_REGION, or a region in your profile)",
            )
        })
}

/// The value after `flag` in an argument list (`--flag value` or `--flag=value`).
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, arg)| {
        if arg == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

/// The hub's own EKS cluster: `--hub-cluster`, else an EKS ARN as context or cluster name
/// (as `aws eks update-kubeconfig` writes them), else `aws eks get-token --cluster-name`.
async fn find_hub_cluster<E: Eks>(
    context: &HubContext,
    eks: &E,
    flag: Option<&str>,
    regions: &[String],
) -> Result<Option<ClusterArn>> {
    let from_context = ClusterArn::parse(&context.context)
        .or_else(|_| ClusterArn::parse(&context.cluster))
        .ok();
    let (name, region) = match (flag, &from_context) {
        (None, Some(arn)) => return Ok(Some(arn.clone())),
        (Some(name), Some(arn)) if arn.name == name => return Ok(Some(arn.clone())),
        (Some(name), _) => (name.to_owned(), regions[0].clone()),
        (None, None) => {
            let Some(name) = flag_value(&context.exec_args, "--cluster-name") else {
                return Ok(None);
            };
            let region = flag_value(&context.exec_args, "--region").unwrap_or(&regions[0]);
            (name.to_owned(), region.to_owned())
        }
    };
    match eks.describe_cluster(&region, &name).await? {
        Some(cluster) => Ok(Some(cluster.arn)),
        None => Err(Error::NotFound {
            what: format!("the hub's EKS cluster {name} (region {region})"),
            fix: "Pass --hub-cluster with the name of the EKS cluster Argo CD runs on, and --region with its region".into(),
        }),
    }
}

/// `--identity auto`: pod identity when the hub is EKS and has the agent, else IRSA.
async fn auto_identity<E: Eks>(eks: &E, hub_cluster: Option<&ClusterArn>) -> Result<IdentityMode> {
    match hub_cluster {
        Some(cluster) if eks.has_addon(cluster, POD_IDENTITY_AGENT_ADDON).await? => {
            Ok(IdentityMode::PodIdentity)
        }
        _ => Ok(IdentityMode::Irsa),
    }
}

async fn find_target<E: Eks>(
    eks: &E,
    target: &TargetRef,
    regions: &[String],
) -> Result<EksCluster> {
    let cluster = match target {
        TargetRef::Arn(arn) => match eks.describe_cluster(&arn.region, &arn.name).await? {
            Some(cluster) if cluster.arn == *arn => cluster,
            Some(cluster) => {
                return Err(Error::NotFound {
                    what: format!("{arn} (these credentials see {} instead)", cluster.arn),
                    fix: format!("Use credentials for account {} (--profile)", arn.account),
                });
            }
            None => {
                return Err(Error::NotFound {
                    what: format!("EKS cluster {arn}"),
                    fix: "Check the ARN, and that --profile is for its account".into(),
                });
            }
        },
        TargetRef::Name(name) => {
            let mut found = Vec::new();
            for region in regions {
                if let Some(cluster) = eks.describe_cluster(region, name).await? {
                    found.push(cluster);
                }
            }
            match found.len() {
                0 => {
                    return Err(Error::NotFound {
                        what: format!("EKS cluster {name} in {}", regions.join(", ")),
                        fix: "Pass --region with the cluster's region, or give its ARN".into(),
                    });
                }
                1 => found.remove(0),
                _ => {
                    let arns: Vec<String> = found.iter().map(|c| c.arn.to_string()).collect();
                    return Err(Error::usage(format!(
                        "there are clusters named {name} in several regions ({}); give the ARN of the one to register",
                        arns.join(", ")
                    )));
                }
            }
        }
    };
    if cluster.endpoint.is_empty() || cluster.ca_data.is_empty() {
        return Err(Error::usage(format!(
            "{} has no endpoint or CA yet (status {}); register it once it is ACTIVE",
            cluster.arn, cluster.status
        )));
    }
    Ok(cluster)
}

/// Read everything the plan depends on; reads only.
async fn observe<H: Hub, E: Eks>(
    hub: &H,
    eks: &E,
    identity: &HubIdentity,
    registrations: &[Registration],
) -> Result<Observed> {
    let namespace = &identity.namespace;
    let mut secrets = hub.cluster_secrets(namespace).await?;
    for registration in registrations {
        let name = registration
            .secret
            .secret_name
            .clone()
            .unwrap_or_else(|| default_secret_name(&registration.cluster.arn));
        if !secrets.iter().any(|s| s.name == name)
            && let Some(secret) = hub.secret(namespace, &name).await?
        {
            secrets.push(secret);
        }
    }
    let service_accounts = hub.service_accounts(namespace).await?;
    let associations = match (&identity.mode, &identity.hub_cluster) {
        (IdentityMode::PodIdentity, Some(hub_cluster)) => {
            eks.pod_identity_associations(hub_cluster, namespace)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(Observed {
        secrets,
        service_accounts,
        associations,
    })
}

/// The RBAC verbs the plan's Kubernetes writes need, checked before anything is written.
async fn check_hub_permissions<H: Hub>(hub: &H, plan: &Plan) -> Result<()> {
    let mut needed = BTreeSet::new();
    let mut namespace = None;
    for action in plan.writes() {
        match &action.step {
            Step::ApplySecret { secret } => {
                namespace = Some(secret.namespace.clone());
                needed.insert(("patch", "secrets"));
                if action.change == Change::Create {
                    needed.insert(("create", "secrets"));
                }
            }
            Step::AnnotateServiceAccount {
                service_account, ..
            } => {
                namespace = Some(service_account.namespace.clone());
                needed.insert(("patch", "serviceaccounts"));
            }
            _ => {}
        }
    }
    let Some(namespace) = namespace else {
        return Ok(());
    };
    let mut denied = Vec::new();
    for (verb, resource) in &needed {
        if !hub.can_i(&namespace, verb, resource).await? {
            denied.push(format!("{verb} {resource}"));
        }
    }
    if denied.is_empty() {
        return Ok(());
    }
    Err(Error::PermissionDenied {
        what: format!(
            "the hub does not let you {} in namespace {namespace}",
            denied.join(", ")
        ),
        fix: format!(
            "Nothing was changed. Ask a cluster admin to grant it, e.g. kubectl -n {namespace} create role argocd-eks-registrar --verb=get,list,create,patch --resource=secrets,serviceaccounts and a rolebinding to you"
        ),
    })
}

/// Make the plan's writes, identity first and Secrets last; writes only.
async fn apply<H: Hub, E: Eks>(hub: &H, eks: &E, plan: &Plan, write: Write) -> Result<()> {
    check_hub_permissions(hub, plan).await?;
    for action in plan.writes() {
        match &action.step {
            Step::ApplySecret { secret } => hub.apply_secret(secret, write).await?,
            Step::AnnotateServiceAccount {
                service_account,
                role_arn,
            } => {
                hub.annotate_service_account(service_account, IRSA_ANNOTATION, role_arn, write)
                    .await?
            }
            // AWS has no dry run: on a server dry run only Kubernetes writes are sent.
            _ if write == Write::ServerDryRun => {}
            Step::CreatePodIdentityAssociation {
                hub_cluster,
                service_account,
                role_arn,
            } => {
                eks.create_pod_identity_association(hub_cluster, service_account, role_arn)
                    .await?
            }
            Step::UpdatePodIdentityAssociation {
                hub_cluster,
                association_id,
                role_arn,
                ..
            } => {
                eks.update_pod_identity_association(hub_cluster, association_id, role_arn)
                    .await?
            }
        }
    }
    Ok(())
}

/// Read back and plan again: after a successful apply there must be nothing left to do.
async fn verify<H: Hub, E: Eks>(
    hub: &H,
    eks: &E,
    identity: &HubIdentity,
    registrations: &[Registration],
) -> Result<()> {
    let observed = observe(hub, eks, identity, registrations).await?;
    let again = plan(identity, registrations, &observed).map_err(plan_error)?;
    let left: Vec<String> = again
        .writes()
        .map(|a| format!("{} ({})", a.step.subject(), a.detail))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_in_exec_args() {
        let args: Vec<String> = [
            "aws",
            "--region",
            "eu-west-1",
            "eks",
            "get-token",
            "--cluster-name=hub",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(flag_value(&args, "--region"), Some("eu-west-1"));
        assert_eq!(flag_value(&args, "--cluster-name"), Some("hub"));
        assert_eq!(flag_value(&args, "--profile"), None);
    }

    #[test]
    fn search_regions_prefers_flags_then_default() {
        assert_eq!(
            search_regions(&["eu-west-1".into()], Some("us-east-1")).unwrap(),
            vec!["eu-west-1"]
        );
        assert_eq!(
            search_regions(&[], Some("us-east-1")).unwrap(),
            vec!["us-east-1"]
        );
        assert!(
            matches!(search_regions(&[], None), Err(Error::Usage(m)) if m.contains("--region"))
        );
    }
}
