//! `add`'s flags -> validated settings: targets, roles, identity, the Secret's fields and
//! target access; pure, every rejection names the flag.

use super::names::{Kind, dns_label_problem, key_values, subdomain_problem};
use super::{TargetRef, role_flag};
use crate::cli::args::{AddArgs, IdentityArg};
use crate::core::access::{ACCESS_POLICIES, TargetAccess};
use crate::core::model::{
    AccessScope, ClusterArn, DEFAULT_ACCESS_POLICY, IdentityMode, MANAGED_BY_LABEL, RoleArn,
    SECRET_TYPE_LABEL,
};
use crate::core::partition::Partition;
use crate::core::secret::{SecretOptions, valid_secret_name};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityChoice {
    Auto,
    Fixed(IdentityMode),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddSettings {
    /// Empty: pick them interactively (guided mode, which also asks for what flags left out).
    pub(crate) targets: Vec<TargetRef>,
    pub(crate) target_role: Option<RoleArn>,
    /// None: ask, or fail naming the flag.
    pub(crate) management_role: Option<RoleArn>,
    /// None: auto (asked in guided mode).
    pub(crate) identity: Option<IdentityChoice>,
    pub(crate) hub_cluster: Option<String>,
    pub(crate) secret: SecretOptions,
    pub(crate) replace_identity: bool,
    /// `--native-chaining`: the target role goes into the pod identity associations.
    pub(crate) native_chaining: bool,
    /// None with `skip_access` false: the default policy (asked in guided mode).
    pub(crate) access: Option<TargetAccess>,
    pub(crate) skip_access: bool,
    pub(crate) restart: bool,
    /// Write even when the checks before writing fail.
    pub(crate) force: bool,
}

/// The policy name of `--access-policy NAME|ARN`; an ARN may be in any partition
/// (`arn:aws-cn:eks::aws:cluster-access-policy/NAME`), the target's partition decides.
pub(crate) fn access_policy_name(text: &str) -> Result<String> {
    let name = text
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(partition, _)| Partition::by_id(partition).is_some())
        .and_then(|(_, rest)| rest.strip_prefix("eks::aws:cluster-access-policy/"))
        .unwrap_or(text);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::usage(format!(
            "--access-policy {text:?} is not an EKS access policy; use one of {} (or its ARN)",
            ACCESS_POLICIES.join(", ")
        )));
    }
    Ok(name.to_owned())
}

pub(super) fn identity_choice(identity: Option<IdentityArg>) -> IdentityChoice {
    match identity {
        None | Some(IdentityArg::Auto) => IdentityChoice::Auto,
        Some(IdentityArg::Irsa) => IdentityChoice::Fixed(IdentityMode::Irsa),
        Some(IdentityArg::PodIdentity) => IdentityChoice::Fixed(IdentityMode::PodIdentity),
    }
}

pub(super) fn add_settings(
    add: AddArgs,
    namespace: &str,
    interactive: bool,
) -> Result<AddSettings> {
    let mut targets = Vec::new();
    for text in add.clusters.iter().chain(&add.cluster_flags) {
        let target = if text.starts_with("arn:") {
            TargetRef::Arn(ClusterArn::parse(text).map_err(|e| Error::usage(e.to_string()))?)
        } else if ClusterArn::valid_name(text) {
            TargetRef::Name(text.clone())
        } else if text.len() > 100 {
            return Err(Error::usage(format!(
                "{text:?} is {} characters long, and EKS cluster names have at most 100: check the name (or give the cluster's ARN)",
                text.len()
            )));
        } else {
            return Err(Error::usage(format!(
                "{text:?} is neither an EKS cluster name (letters, digits, '-' and '_', starting with a letter or digit) nor a cluster ARN (arn:aws:eks:<region>:<account>:cluster/<name>)"
            )));
        };
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    if targets.is_empty() && !interactive {
        return Err(Error::usage(
            "name the cluster to register: kubectl argocd-eks add CLUSTER --region REGION (or its ARN); on a terminal, leave it out to pick from a list",
        ));
    }
    if targets.len() > 1 && (add.secret_name.is_some() || add.name.is_some()) {
        return Err(Error::usage(
            "--secret-name and --name apply to one cluster; register the clusters one at a time",
        ));
    }
    let capability_role = add
        .capability_role
        .as_deref()
        .map(|text| role_flag("--capability-role", text))
        .transpose()?;
    let management_role = match &capability_role {
        Some(role) => Some(role.clone()),
        None => add
            .management_role_arn
            .as_deref()
            .map(|text| role_flag("--management-role-arn", text))
            .transpose()?,
    };
    if management_role.is_none() && !interactive {
        return Err(Error::usage(
            "pass --management-role-arn ARN: the IAM role Argo CD's pods run as (hub account)",
        ));
    }
    let target_role = add
        .role_arn
        .as_deref()
        .map(|text| role_flag("--role-arn", text))
        .transpose()?;
    if let Some(name) = &add.secret_name
        && !valid_secret_name(name)
    {
        let problem = subdomain_problem(name).unwrap_or_else(|| {
            "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit".into()
        });
        return Err(Error::usage(format!(
            "--secret-name {name:?} is not a valid Secret name: {problem}"
        )));
    }
    if let Some(project) = &add.project
        && let Some(problem) = subdomain_problem(project)
    {
        return Err(Error::usage(format!(
            "--project {project:?} is not an Argo CD project name (an AppProject's name): {problem}"
        )));
    }
    if let Some(hub) = &add.hub_cluster
        && !ClusterArn::valid_name(hub)
    {
        return Err(Error::usage(format!(
            "--hub-cluster {hub:?} is not an EKS cluster name"
        )));
    }
    if add.cluster_resources && add.namespaces.is_empty() {
        return Err(Error::usage(
            "--cluster-resources only means something with --namespaces; without --namespaces Argo CD manages everything",
        ));
    }
    for ns in &add.namespaces {
        if let Some(problem) = dns_label_problem(ns) {
            return Err(Error::usage(format!(
                "--namespaces: {ns:?} is not a valid namespace name: {problem}"
            )));
        }
    }
    let labels = key_values("--label", Kind::Label, &add.labels)?;
    for reserved in [SECRET_TYPE_LABEL, MANAGED_BY_LABEL] {
        if labels.contains_key(reserved) {
            return Err(Error::usage(format!(
                "--label {reserved} is set by the tool itself; choose another key"
            )));
        }
    }
    let identity = match capability_role {
        Some(_) => Some(IdentityChoice::Fixed(IdentityMode::Capability)),
        None => add.identity.map(|identity| identity_choice(Some(identity))),
    };
    if add.native_chaining
        && matches!(
            identity,
            Some(IdentityChoice::Fixed(
                IdentityMode::Irsa | IdentityMode::Capability
            ))
        )
    {
        return Err(Error::usage(
            "--native-chaining is pod identity's targetRoleArn: use it with --identity pod-identity (or auto), or drop it",
        ));
    }
    for ns in &add.access_namespaces {
        if let Some(problem) = dns_label_problem(ns) {
            return Err(Error::usage(format!(
                "--access-namespaces: {ns:?} is not a valid namespace name: {problem}"
            )));
        }
    }
    let access = match (&add.access_policy, add.access_namespaces.is_empty()) {
        (None, true) => None,
        (policy, _) => Some(TargetAccess {
            policy: access_policy_name(policy.as_deref().unwrap_or(DEFAULT_ACCESS_POLICY))?,
            scope: if add.access_namespaces.is_empty() {
                AccessScope::Cluster
            } else {
                AccessScope::Namespace(add.access_namespaces.clone())
            },
        }),
    };
    Ok(AddSettings {
        targets,
        target_role,
        management_role,
        identity,
        hub_cluster: add.hub_cluster,
        secret: SecretOptions {
            namespace: namespace.to_owned(),
            secret_name: add.secret_name,
            display_name: add.name,
            labels,
            annotations: key_values("--annotation", Kind::Annotation, &add.annotations)?,
            project: add.project,
            namespaces: add.namespaces,
            cluster_resources: add.cluster_resources,
        },
        replace_identity: add.replace_identity,
        native_chaining: add.native_chaining,
        access,
        skip_access: add.skip_access,
        restart: add.restart,
        force: add.force,
    })
}
