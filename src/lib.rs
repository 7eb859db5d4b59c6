//! kubectl argocd-eks: register Amazon EKS clusters with Argo CD. `run` wires the real adapters.

pub(crate) mod adapters;
pub mod cli;
pub(crate) mod commands;
pub mod core;
pub mod error;
pub(crate) mod ports;
#[cfg(test)]
mod testing;

use std::io::IsTerminal;

use adapters::assumed_role::assume_role_config;
use adapters::aws::{AwsApi, load_config};
use adapters::kube::KubeHub;
use adapters::prompt::{NoPrompt, TerminalPrompt};
use cli::args::Cli;
use cli::settings::{CommandSettings, Environment, Settings};
use commands::Ports;
use commands::accounts::Accounts;
use error::Result;
use ports::{
    EksRead, EksWrite, HubRead, HubWrite, IamRead, IamWrite, Prompt, Targets, TokenMinter,
};

/// Run one invocation: validate the flags, build the adapters the command needs, dispatch.
pub async fn run(cli: Cli) -> Result<()> {
    let environment = Environment {
        stdin_is_terminal: std::io::stdin().is_terminal(),
        no_color_env: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    };
    let settings = Settings::from_cli(cli, environment)?;
    init_tracing(settings.verbose, settings.color);
    let result = run_command(&settings).await;
    if let Err(error) = &result {
        // `-v` shows what led to the error (the API's own words).
        for cause in error.causes() {
            tracing::info!("caused by: {cause}");
        }
    }
    result
}

/// Build the real adapters the command needs and dispatch to it.
async fn run_command(settings: &Settings) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match &settings.command {
        CommandSettings::Completion(shell) => {
            return commands::completion::run(*shell, &mut stdout);
        }
        CommandSettings::Permissions(permissions) => {
            return commands::permissions::run(settings, permissions, &mut stdout);
        }
        _ => {}
    }
    // Ctrl-C ends the run at once before writes, and between writes once they began.
    adapters::interrupt::install();
    adapters::aws_http::load_root_certificates_early();
    let hub = KubeHub::connect(
        settings.kubeconfig.as_deref(),
        settings.context.as_deref(),
        settings.timeouts,
    )
    .await?;
    adapters::local::require_profile(settings.aws.profile.as_deref())?;
    let config = load_config(settings.aws.profile.as_deref(), settings.timeouts).await;
    let default_region = config.region().map(ToString::to_string);
    let mut accounts = Accounts::new(AwsApi::new(config.clone()));
    for role in &settings.aws.assume_roles {
        accounts.assume(role, AwsApi::new(assume_role_config(&config, role).await));
    }
    let region = default_region.as_deref();
    if settings.interactive {
        let prompt = TerminalPrompt::new(settings.color);
        let ports = Ports {
            hub: &hub,
            accounts: &accounts,
            prompt: &prompt,
        };
        dispatch(settings, ports, region, &mut stdout).await
    } else {
        let ports = Ports {
            hub: &hub,
            accounts: &accounts,
            prompt: &NoPrompt,
        };
        dispatch(settings, ports, region, &mut stdout).await
    }
}

/// Run the command `settings` names through `ports` (real ones here, fakes in unit tests).
pub(crate) async fn dispatch<
    H: HubRead + HubWrite + Targets,
    A: EksRead + EksWrite + IamRead + IamWrite + TokenMinter,
    P: Prompt,
>(
    settings: &Settings,
    ports: Ports<'_, H, A, P>,
    region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    match &settings.command {
        CommandSettings::Add(add) => commands::add::run(settings, add, ports, region, out).await,
        CommandSettings::List => commands::list::run(settings, ports, region, out).await,
        CommandSettings::Remove(clusters) => {
            commands::remove::run(settings, clusters, ports, region, out).await
        }
        CommandSettings::Doctor(doctor) => {
            commands::doctor::run(settings, doctor, ports, region, out).await
        }
        CommandSettings::Policy(policy) => {
            commands::policy::run(settings, policy, ports, region, out).await
        }
        CommandSettings::Completion(shell) => commands::completion::run(*shell, out),
        CommandSettings::Permissions(permissions) => {
            commands::permissions::run(settings, permissions, out)
        }
    }
}

/// Logs go to stderr: `-v` this tool's info, `-vv` its debug, `-vvv` everything.
fn init_tracing(verbose: u8, color: bool) {
    let filter = match verbose {
        // kube logs unreachable endpoints as errors; doctor reports those itself.
        // The AWS SDK's warnings (a refused AssumeRole, a missing config file) are in Rust's
        // Debug format; the error the tool prints says the same in words.
        0 => "warn,kube_client=off,aws_config=error,aws_runtime=error",
        1 => "warn,kubectl_argocd_eks=info",
        2 => "info,kubectl_argocd_eks=debug",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(color && std::io::stderr().is_terminal())
        .try_init();
}
