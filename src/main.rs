//! The `kubectl-argocd_eks` binary: parse, run, turn the error into an exit code.

use std::process::ExitCode;

use clap::Parser;
use kubectl_argocd_eks::cli::args::Cli;
use kubectl_argocd_eks::error::{Error, exit};

fn main() -> ExitCode {
    // A completion script calling back is answered here, before anything else runs.
    kubectl_argocd_eks::cli::completion::complete_from_env();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(kubectl_argocd_eks::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(Error::exit_code(&error))
        }
    }
}
