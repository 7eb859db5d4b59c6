//! Shell completion: the scripts each shell loads, kubectl's plugin-completion protocol, and
//! which arguments complete from live data (clap_complete's dynamic engine).
//!
//! Every script calls back into the binary at TAB time (`KUBECTL_ARGOCD_EKS_COMPLETE=<shell>
//! kubectl-argocd_eks -- <words>`), so contexts, namespaces and cluster names complete from what exists now. The
//! `kubectl_complete-argocd_eks` script is what kubectl (>= 1.26) runs for
//! `kubectl argocd-eks <TAB>`: it answers in cobra's `__complete` format.

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{Bash, EnvCompleter, Fish, Powershell, Shells, Zsh};

use crate::cli::args::Cli;
use crate::commands::completion as candidates;

/// The binary every script calls back (krew links it under this name).
pub(crate) const BIN: &str = "kubectl-argocd_eks";
/// The environment variable that turns a run into a completion request. clap's default,
/// `COMPLETE`, is too common a name: set for another reason, it would break every run.
const VAR: &str = "KUBECTL_ARGOCD_EKS_COMPLETE";

/// The shells `completion SHELL` prints a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    /// The `kubectl_complete-argocd_eks` script, for `kubectl argocd-eks <TAB>` (kubectl >= 1.26)
    Kubectl,
}

impl CompletionShell {
    pub const ALL: [CompletionShell; 5] = [
        CompletionShell::Bash,
        CompletionShell::Zsh,
        CompletionShell::Fish,
        CompletionShell::Powershell,
        CompletionShell::Kubectl,
    ];

    /// The file name under `completions/` (as each shell looks for it).
    pub fn file_name(self) -> &'static str {
        match self {
            CompletionShell::Bash => "kubectl-argocd_eks.bash",
            CompletionShell::Zsh => "_kubectl-argocd_eks",
            CompletionShell::Fish => "kubectl-argocd_eks.fish",
            CompletionShell::Powershell => "kubectl-argocd_eks.ps1",
            CompletionShell::Kubectl => "kubectl_complete-argocd_eks",
        }
    }

    fn completer(self) -> &'static dyn EnvCompleter {
        match self {
            CompletionShell::Bash => &Bash,
            CompletionShell::Zsh => &Zsh,
            CompletionShell::Fish => &Fish,
            CompletionShell::Powershell => &Powershell,
            CompletionShell::Kubectl => &KubectlPlugin,
        }
    }
}

/// When a completion script called back (`KUBECTL_ARGOCD_EKS_COMPLETE` is set), print the
/// candidates and exit; otherwise return at once. Call it first in `main`, before anything
/// writes to stdout.
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(command)
        .var(VAR)
        .shells(Shells(&[&Bash, &Zsh, &Fish, &Powershell, &KubectlPlugin]))
        .bin(BIN)
        .completer(BIN)
        .complete();
}

/// The script for `shell`: what `completion SHELL` prints and `completions/` holds.
pub fn write_script(shell: CompletionShell, out: &mut dyn Write) -> std::io::Result<()> {
    shell
        .completer()
        .write_registration(VAR, BIN, BIN, BIN, out)
}

/// The command line with the dynamic candidates attached. Only completion needs them, so
/// ordinary runs parse `Cli` without them.
pub(crate) fn command() -> clap::Command {
    let registered = || ArgValueCandidates::new(candidates::registered_clusters);
    Cli::command()
        .mut_arg("context", |arg| {
            arg.add(ArgValueCandidates::new(candidates::contexts))
        })
        .mut_arg("argocd_namespace", |arg| {
            arg.add(ArgValueCandidates::new(candidates::namespaces))
        })
        .mut_arg("profile", |arg| {
            arg.add(ArgValueCandidates::new(candidates::profiles))
        })
        .mut_arg("regions", |arg| {
            arg.add(ArgValueCandidates::new(candidates::regions))
        })
        .mut_subcommand("add", |add| {
            add.mut_arg("clusters", |arg| {
                arg.add(ArgValueCandidates::new(candidates::discovered_clusters))
            })
            .mut_arg("cluster_flags", |arg| {
                arg.add(ArgValueCandidates::new(candidates::discovered_clusters))
            })
            .mut_arg("access_policy", |arg| {
                arg.add(ArgValueCandidates::new(candidates::access_policies))
            })
        })
        .mut_subcommand("remove", |remove| {
            remove.mut_arg("clusters", |arg| arg.add(registered()))
        })
        .mut_subcommand("doctor", |doctor| {
            doctor.mut_arg("clusters", |arg| arg.add(registered()))
        })
}

/// kubectl's plugin completion: kubectl runs `kubectl_complete-argocd_eks WORD... CURRENT`
/// and reads cobra's `__complete` answer, one `value<TAB>description` per line, then
/// `:<directive>`.
struct KubectlPlugin;

/// cobra's ShellCompDirective bits.
const NO_SPACE: u32 = 2;
const NO_FILE_COMPLETION: u32 = 4;

impl EnvCompleter for KubectlPlugin {
    fn name(&self) -> &'static str {
        "kubectl"
    }

    fn is(&self, name: &str) -> bool {
        name == "kubectl"
    }

    fn write_registration(
        &self,
        var: &str,
        _name: &str,
        _bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        writeln!(
            buf,
            "#!/usr/bin/env sh\n\
             # kubectl (>= 1.26) runs this file, found on PATH, for `kubectl argocd-eks <TAB>`.\n\
             # Made by `kubectl argocd-eks completion kubectl`; it asks {completer} itself.\n\
             {var}=kubectl exec {completer} -- {completer} \"$@\""
        )
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        // kubectl always passes the word being completed last, "" for a new word.
        let index = args.len().saturating_sub(1);
        let typing_a_flag = args
            .last()
            .is_some_and(|word| word.to_string_lossy().starts_with('-'));
        let mut found = clap_complete::engine::complete(cmd, args, index, current_dir)?;
        // As kubectl does: flags only once a `-` is typed, unless nothing else fits.
        let is_flag = |c: &CompletionCandidate| c.get_value().to_string_lossy().starts_with('-');
        if !typing_a_flag && found.iter().any(|c| !is_flag(c)) {
            found.retain(|c| !is_flag(c));
        }
        write_cobra(&found, buf)
    }
}

fn write_cobra(found: &[CompletionCandidate], buf: &mut dyn Write) -> std::io::Result<()> {
    let mut directive = NO_FILE_COMPLETION;
    for candidate in found.iter().filter(|c| !c.is_hide_set()) {
        let value = candidate.get_value().to_string_lossy();
        if value.ends_with(['/', '=']) {
            directive |= NO_SPACE;
        }
        match candidate.get_help() {
            Some(help) => {
                let help = help.to_string();
                let first_line = help.lines().next().unwrap_or_default();
                writeln!(buf, "{value}\t{first_line}")?;
            }
            None => writeln!(buf, "{value}")?,
        }
    }
    writeln!(buf, ":{directive}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(words: &[&str]) -> String {
        let mut cmd = command();
        cmd.build();
        let mut args: Vec<OsString> = vec![BIN.into()];
        args.extend(words.iter().map(OsString::from));
        let mut out = Vec::new();
        KubectlPlugin
            .write_complete(&mut cmd, args, None, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_dynamic_argument_exists() {
        // mut_arg panics on an unknown id: building the command checks every name above.
        command().debug_assert();
    }

    #[test]
    fn subcommands_in_cobra_format() {
        let out = complete(&[""]);
        for sub in ["add", "list", "remove", "doctor", "policy", "completion"] {
            assert!(
                out.lines().any(|l| l.split('\t').next() == Some(sub)),
                "{sub} missing in {out}"
            );
        }
        assert!(out.contains("add\tRegister EKS clusters"), "{out}");
        assert_eq!(out.lines().last(), Some(":4"));
    }

    #[test]
    fn flag_values_and_prefixes() {
        let out = complete(&["add", "--identity", "p"]);
        assert!(out.starts_with("pod-identity"), "{out}");
        let out = complete(&["add", "--dry"]);
        assert!(out.lines().any(|l| l.starts_with("--dry-run")), "{out}");
        // Flags wait for a `-`, as in kubectl; with nothing else to offer they show at once.
        assert!(!complete(&[""]).contains("--kubeconfig"));
        assert!(complete(&["-"]).contains("--kubeconfig"));
        assert!(complete(&["list", ""]).contains("--kubeconfig"));
        let out = complete(&["add", "--access-policy", "AmazonEKSV"]);
        assert_eq!(out, "AmazonEKSViewPolicy\n:4\n");
        let out = complete(&["completion", ""]);
        assert!(out.lines().any(|l| l.starts_with("kubectl\t")), "{out}");
    }

    #[test]
    fn completions_folder_is_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        for shell in CompletionShell::ALL {
            let mut want = Vec::new();
            write_script(shell, &mut want).unwrap();
            let path = dir.join(shell.file_name());
            let have = std::fs::read(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is not what `completion {shell:?}` prints; regenerate with \
                 `cargo run --example gen-docs -- completions completions`",
                path.display()
            );
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            CompletionShell::ALL.len(),
            "stray files: {names:?}"
        );
    }

    #[test]
    fn kubectl_script_calls_the_binary_back() {
        let mut out = Vec::new();
        write_script(CompletionShell::Kubectl, &mut out).unwrap();
        let script = String::from_utf8(out).unwrap();
        assert!(script.starts_with("#!/usr/bin/env sh\n"));
        assert!(
            script.ends_with(
                "KUBECTL_ARGOCD_EKS_COMPLETE=kubectl exec kubectl-argocd_eks -- kubectl-argocd_eks \"$@\"\n"
            )
        );
    }
}
