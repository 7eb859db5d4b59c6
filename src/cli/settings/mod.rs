//! Parsed flags -> validated settings, with no I/O; every rejection names the flag to fix.

use std::path::PathBuf;

use super::args::{Cli, Command, DryRun, OutputFormat, PolicyArgs};
use crate::core::model::{ClusterArn, RoleArn};
use crate::core::secret::valid_secret_name;
use crate::error::{Error, Result};

mod add;
mod names;
mod timeout;

pub(crate) use add::{AddSettings, IdentityChoice};
use add::{add_settings, identity_choice};
pub(crate) use timeout::{Timeouts, show as show_duration};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) kubeconfig: Option<PathBuf>,
    pub(crate) context: Option<String>,
    pub(crate) argocd_namespace: String,
    /// Whether --argocd-namespace was given (else Argo CD's namespace may be detected).
    pub(crate) argocd_namespace_given: bool,
    pub(crate) aws: AwsSettings,
    pub(crate) output: OutputFormat,
    pub(crate) dry_run: DryRun,
    pub(crate) yes: bool,
    /// Prompts allowed: stdin is a terminal and --no-interactive was not given.
    pub(crate) interactive: bool,
    pub(crate) verbose: u8,
    pub(crate) color: bool,
    /// `--timeout`: how long any one call to a server may take.
    pub(crate) timeouts: Timeouts,
    pub(crate) command: CommandSettings,
}

/// How to reach AWS, from `AwsArgs`: the profile, the regions to look in, and the roles that
/// reach other accounts. Endpoints and retries come from the AWS SDK's own configuration
/// (`AWS_ENDPOINT_URL*`, the profile's `retry_mode`), as for the AWS CLI; timeouts from
/// `--timeout` ([`Timeouts`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AwsSettings {
    pub(crate) profile: Option<String>,
    /// Regions named with --region; empty means the SDK's default region.
    pub(crate) regions: Vec<String>,
    /// --all-regions: every EKS region of the caller's partition as well.
    pub(crate) all_regions: bool,
    /// Roles to assume to find clusters in other accounts.
    pub(crate) assume_roles: Vec<RoleArn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandSettings {
    Add(Box<AddSettings>),
    List,
    Remove(Vec<TargetRef>),
    Doctor(DoctorSettings),
    Policy(PolicySettings),
    /// `policy --permissions`: what the tool needs, printed; no cluster or AWS call.
    Permissions(PermissionSettings),
    Completion(crate::cli::completion::CompletionShell),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DoctorSettings {
    pub(crate) clusters: Vec<TargetRef>,
    pub(crate) capability_role: Option<RoleArn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicySettings {
    pub(crate) identity: IdentityChoice,
    /// None: `argocd-management` in the caller's account.
    pub(crate) management_role: Option<RoleArn>,
    pub(crate) target_roles: Vec<RoleArn>,
    pub(crate) hub_cluster: Option<String>,
    pub(crate) create: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PermissionSettings {
    pub(crate) what: super::args::PermissionsArg,
    /// The roles the role statements are narrowed to (none: any role).
    pub(crate) roles: Vec<RoleArn>,
}

/// A target as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetRef {
    Arn(ClusterArn),
    Name(String),
}

/// What the environment says, passed in so that `from_cli` stays pure.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Environment {
    pub(crate) stdin_is_terminal: bool,
    pub(crate) no_color_env: bool,
}

impl Settings {
    pub(crate) fn from_cli(cli: Cli, environment: Environment) -> Result<Settings> {
        let interactive = environment.stdin_is_terminal && !cli.run.no_interactive;
        let timeouts = Timeouts::from_flag(cli.network.timeout.as_deref())?;
        let argocd_namespace_given = cli.kube.argocd_namespace.is_some();
        let argocd_namespace = cli
            .kube
            .argocd_namespace
            .unwrap_or_else(|| "argocd".to_owned());
        let command = match cli.command {
            Command::Add(add) => CommandSettings::Add(Box::new(add_settings(
                *add,
                &argocd_namespace,
                interactive,
            )?)),
            Command::List => CommandSettings::List,
            Command::Remove(remove) => CommandSettings::Remove(registered_refs(&remove.clusters)?),
            Command::Doctor(doctor) => CommandSettings::Doctor(DoctorSettings {
                clusters: registered_refs(&doctor.clusters)?,
                capability_role: doctor
                    .capability_role
                    .as_deref()
                    .map(|text| role_flag("--capability-role", text))
                    .transpose()?,
            }),
            Command::Policy(policy) => match policy.permissions {
                Some(what) => {
                    let policy = policy_settings(policy)?;
                    CommandSettings::Permissions(PermissionSettings {
                        what,
                        roles: policy
                            .management_role
                            .into_iter()
                            .chain(policy.target_roles)
                            .collect(),
                    })
                }
                None => CommandSettings::Policy(policy_settings(policy)?),
            },
            Command::Completion(completion) => CommandSettings::Completion(completion.shell),
        };
        let assume_roles = cli
            .aws
            .assume_roles
            .iter()
            .map(|text| {
                RoleArn::parse(text).map_err(|e| Error::usage(format!("--assume-role: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let regions = cli.aws.regions;
        for region in &regions {
            if !valid_region(region) {
                return Err(Error::usage(format!(
                    "--region {region:?} is not an AWS region name (like us-east-1)"
                )));
            }
        }
        if let Some(problem) = names::dns_label_problem(&argocd_namespace) {
            return Err(Error::usage(format!(
                "--argocd-namespace {argocd_namespace:?} is not a valid namespace name: {problem}"
            )));
        }
        Ok(Settings {
            kubeconfig: cli.kube.kubeconfig,
            context: cli.kube.context,
            argocd_namespace,
            argocd_namespace_given,
            aws: AwsSettings {
                profile: cli.aws.profile,
                regions,
                all_regions: cli.aws.all_regions,
                assume_roles,
            },
            output: cli.run.output,
            dry_run: cli.run.dry_run,
            yes: cli.run.yes,
            interactive,
            verbose: cli.run.verbose,
            color: !cli.run.no_color && !environment.no_color_env,
            timeouts,
            command,
        })
    }
}

fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 30
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Registered clusters as named on the command line (cluster name, ARN, or Secret name).
fn registered_refs(texts: &[String]) -> Result<Vec<TargetRef>> {
    texts
        .iter()
        .map(|text| {
            if text.starts_with("arn:") {
                ClusterArn::parse(text)
                    .map(TargetRef::Arn)
                    .map_err(|e| Error::usage(e.to_string()))
            } else if ClusterArn::valid_name(text) || valid_secret_name(text) {
                Ok(TargetRef::Name(text.clone()))
            } else {
                Err(Error::usage(format!(
                    "{text:?} is neither a cluster name, a cluster ARN nor a Secret name"
                )))
            }
        })
        .collect()
}

fn role_flag(flag: &str, text: &str) -> Result<RoleArn> {
    RoleArn::parse(text).map_err(|e| Error::usage(format!("{flag}: {e}")))
}

fn policy_settings(policy: PolicyArgs) -> Result<PolicySettings> {
    if let Some(hub) = &policy.hub_cluster
        && !ClusterArn::valid_name(hub)
    {
        return Err(Error::usage(format!(
            "--hub-cluster {hub:?} is not an EKS cluster name"
        )));
    }
    Ok(PolicySettings {
        identity: identity_choice(policy.identity),
        management_role: policy
            .management_role_arn
            .as_deref()
            .map(|text| role_flag("--management-role-arn", text))
            .transpose()?,
        target_roles: policy
            .role_arns
            .iter()
            .map(|text| role_flag("--role-arn", text))
            .collect::<Result<_>>()?,
        hub_cluster: policy.hub_cluster,
        create: policy.create,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::access::TargetAccess;
    use crate::core::model::{AccessScope, IdentityMode};
    use clap::Parser;

    const MGMT: &str = "--management-role-arn=arn:aws:iam::123456789012:role/argocd";

    fn settings(args: &[&str]) -> Result<Settings> {
        let mut argv = vec!["kubectl-argocd_eks"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| Error::usage(e.to_string()))?;
        Settings::from_cli(cli, Environment::default())
    }

    fn add(args: &[&str]) -> Result<AddSettings> {
        let mut argv = vec!["add", MGMT];
        argv.extend_from_slice(args);
        settings(&argv).map(|s| match s.command {
            CommandSettings::Add(add) => *add,
            other => panic!("{other:?}"),
        })
    }

    fn usage_error(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::Usage(message)) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn table_of_valid_add_command_lines() {
        let arn = "arn:aws:eks:eu-west-1:210987654321:cluster/team-b";
        let cases: Vec<(Vec<&str>, Vec<TargetRef>)> = vec![
            (vec!["prod"], vec![TargetRef::Name("prod".into())]),
            (
                vec!["--cluster", "prod"],
                vec![TargetRef::Name("prod".into())],
            ),
            (
                vec![arn, "--cluster", "prod", "prod"],
                vec![
                    TargetRef::Arn(ClusterArn::parse(arn).unwrap()),
                    TargetRef::Name("prod".into()),
                ],
            ),
        ];
        for (args, targets) in cases {
            assert_eq!(add(&args).unwrap().targets, targets, "{args:?}");
        }
    }

    #[test]
    fn add_defaults() {
        let add = add(&["prod"]).unwrap();
        assert_eq!(add.identity, None);
        assert_eq!(add.access, None);
        assert!(!add.skip_access && !add.restart);
        assert_eq!(add.target_role, None);
        assert_eq!(add.secret.namespace, "argocd");
        assert!(!add.replace_identity);
    }

    #[test]
    fn global_flags() {
        let s = settings(&[
            "add",
            "prod",
            MGMT,
            "--region",
            "eu-west-1",
            "--region=us-east-1",
            "-o",
            "json",
            "--dry-run",
            "--yes",
            "--argocd-namespace",
            "gitops",
            "-vv",
        ])
        .unwrap();
        assert_eq!(s.aws.regions, vec!["eu-west-1", "us-east-1"]);
        assert_eq!(s.output, OutputFormat::Json);
        assert_eq!(s.dry_run, DryRun::Client);
        assert!(s.yes && !s.interactive);
        assert_eq!(s.verbose, 2);
        assert_eq!(s.argocd_namespace, "gitops");
        let CommandSettings::Add(add) = s.command else {
            panic!()
        };
        assert_eq!(add.secret.namespace, "gitops");
        assert_eq!(
            settings(&["add", "prod", MGMT, "--dry-run=server"])
                .unwrap()
                .dry_run,
            DryRun::Server
        );
    }

    #[test]
    fn secret_options_are_collected() {
        let add = add(&[
            "prod",
            "--label",
            "env=prod",
            "--label",
            "example.com/team=a",
            "--annotation",
            "note=x=y",
            "--project",
            "platform",
            "--namespaces",
            "a,b",
            "--cluster-resources",
            "--name",
            "Prod",
            "--secret-name",
            "prod",
        ])
        .unwrap();
        assert_eq!(add.secret.labels["env"], "prod");
        assert_eq!(add.secret.labels["example.com/team"], "a");
        assert_eq!(add.secret.annotations["note"], "x=y");
        assert_eq!(add.secret.namespaces, vec!["a", "b"]);
        assert!(add.secret.cluster_resources);
        assert_eq!(add.secret.display_name.as_deref(), Some("Prod"));
        assert_eq!(add.secret.secret_name.as_deref(), Some("prod"));
    }

    #[test]
    fn table_of_rejected_command_lines_names_the_flag() {
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["add", MGMT], "add CLUSTER"),
            (vec!["add", "prod"], "--management-role-arn"),
            (
                vec![
                    "add",
                    "prod",
                    "--management-role-arn",
                    "arn:aws:sts::123456789012:assumed-role/a/b",
                ],
                "assumed-role",
            ),
            (
                vec!["add", "prod", MGMT, "--role-arn", "deployer"],
                "--role-arn",
            ),
            (vec!["add", "bad name", MGMT], "neither an EKS cluster name"),
            (
                vec!["add", "arn:aws:eks:x:1:cluster/a", MGMT],
                "not an EKS cluster ARN",
            ),
            (
                vec!["add", "a", "b", MGMT, "--secret-name", "x"],
                "one cluster",
            ),
            (
                vec!["add", "a", MGMT, "--secret-name", "Bad_Name"],
                "--secret-name",
            ),
            (vec!["add", "a", MGMT, "--label", "novalue"], "KEY=VALUE"),
            (
                vec!["add", "a", MGMT, "--label", "a/b/c=1"],
                "not a valid key",
            ),
            (
                vec![
                    "add",
                    "a",
                    MGMT,
                    "--label",
                    "app.kubernetes.io/managed-by=me",
                ],
                "set by the tool",
            ),
            (
                vec!["add", "a", MGMT, "--cluster-resources"],
                "--namespaces",
            ),
            (vec!["add", "a", MGMT, "--region", "EU West"], "--region"),
            (
                vec!["add", "a", MGMT, "--argocd-namespace", "Argo_CD"],
                "--argocd-namespace",
            ),
            (
                vec!["add", "a", MGMT, "--hub-cluster", "no way"],
                "--hub-cluster",
            ),
        ];
        for (args, needle) in cases {
            let message = usage_error(settings(&args));
            assert!(message.contains(needle), "{args:?}: {message}");
        }
    }

    #[test]
    fn prompts_need_a_terminal_and_no_no_interactive() {
        let cli = || Cli::try_parse_from(["k", "completion", "bash"]).unwrap();
        let tty = Environment {
            stdin_is_terminal: true,
            no_color_env: false,
        };
        assert!(Settings::from_cli(cli(), tty).unwrap().interactive);
        let cli_no = Cli::try_parse_from(["k", "completion", "bash", "--no-interactive"]).unwrap();
        assert!(!Settings::from_cli(cli_no, tty).unwrap().interactive);
        assert!(
            !Settings::from_cli(cli(), Environment::default())
                .unwrap()
                .interactive
        );
        let no_color = Environment {
            no_color_env: true,
            ..tty
        };
        assert!(!Settings::from_cli(cli(), no_color).unwrap().color);
    }

    #[test]
    fn access_flags_become_target_access() {
        let edit = add(&[
            "prod",
            "--access-policy",
            "AmazonEKSEditPolicy",
            "--access-namespaces",
            "a,b",
        ])
        .unwrap();
        assert_eq!(
            edit.access,
            Some(TargetAccess {
                policy: "AmazonEKSEditPolicy".into(),
                scope: AccessScope::Namespace(vec!["a".into(), "b".into()]),
            })
        );
        let scoped = add(&["prod", "--access-namespaces", "a"]).unwrap();
        assert_eq!(scoped.access.unwrap().policy, "AmazonEKSClusterAdminPolicy");
        for arn in [
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            "arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        ] {
            let by_arn = add(&["prod", "--access-policy", arn]).unwrap();
            assert_eq!(
                by_arn.access.unwrap().policy,
                "AmazonEKSViewPolicy",
                "{arn}"
            );
        }
        assert!(
            add(&[
                "prod",
                "--access-policy",
                "arn:aws-mars:eks::aws:cluster-access-policy/X"
            ])
            .is_err()
        );
        assert!(add(&["prod", "--skip-access"]).unwrap().skip_access);
    }

    #[test]
    fn all_regions_and_assume_roles() {
        let s = settings(&[
            "add",
            "p",
            MGMT,
            "--all-regions",
            "--assume-role",
            "arn:aws:iam::210987654321:role/discovery",
        ])
        .unwrap();
        assert!(s.aws.all_regions && s.aws.regions.is_empty());
        assert_eq!(s.aws.assume_roles[0].account, "210987654321");
        assert!(!s.argocd_namespace_given);
    }

    #[test]
    fn a_terminal_may_leave_out_the_cluster() {
        let cli = Cli::try_parse_from(["k", "add"]).unwrap();
        let tty = Environment {
            stdin_is_terminal: true,
            no_color_env: false,
        };
        let CommandSettings::Add(add) = Settings::from_cli(cli, tty).unwrap().command else {
            panic!()
        };
        assert!(add.targets.is_empty() && add.management_role.is_none());
    }

    #[test]
    fn capability_role_selects_the_capability_mode() {
        let cli = Cli::try_parse_from([
            "k",
            "add",
            "prod",
            "--capability-role",
            "arn:aws:iam::123456789012:role/ArgoCDCapabilityRole",
        ])
        .unwrap();
        let CommandSettings::Add(add) = Settings::from_cli(cli, Environment::default())
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(
            add.identity,
            Some(IdentityChoice::Fixed(IdentityMode::Capability))
        );
        assert_eq!(add.management_role.unwrap().name(), "ArgoCDCapabilityRole");
        let both = settings(&[
            "add",
            "prod",
            MGMT,
            "--capability-role",
            "arn:aws:iam::123456789012:role/ArgoCDCapabilityRole",
        ]);
        assert!(usage_error(both).contains("cannot be used with"));
    }
}
