//! Writes the files made from the command line: `completions DIR` (each shell's script, as
//! `completion SHELL` prints it) and `man DIR` (one man page per command, with clap_mangen,
//! which stays out of the plugin's binary). scripts/package calls it; a test keeps
//! `completions/` current.

use std::path::PathBuf;

use clap::CommandFactory;
use kubectl_argocd_eks::cli::args::Cli;
use kubectl_argocd_eks::cli::completion::{CompletionShell, write_script};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(what), Some(dir)) = (args.next(), args.next().map(PathBuf::from)) else {
        eprintln!("usage: gen-docs completions|man DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    match what.as_str() {
        "completions" => {
            for shell in CompletionShell::ALL {
                let mut script = Vec::new();
                write_script(shell, &mut script)?;
                let path = dir.join(shell.file_name());
                std::fs::write(&path, script)?;
                #[cfg(unix)]
                if shell == CompletionShell::Kubectl {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
                }
            }
        }
        "man" => {
            // Pages named as users type the plugin: kubectl-argocd-eks(1), kubectl-argocd-eks-add(1).
            let command = Cli::command().name("kubectl-argocd-eks");
            clap_mangen::generate_to(command, &dir)?;
        }
        other => {
            eprintln!("gen-docs: unknown output {other}; use completions or man");
            std::process::exit(2);
        }
    }
    Ok(())
}
