//! `completion SHELL`: print clap's completion script for the shell.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::args::Cli;

pub(crate) fn run(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "kubectl-argocd_eks", out);
}
