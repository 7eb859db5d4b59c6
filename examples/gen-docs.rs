//! Writes the files made from the command line: `completions DIR` (each shell's script, as
//! `completion SHELL` prints it) and `man DIR` (one man page per command, with clap_mangen,
//! which stays out of the plugin's binary). scripts/package calls it; a unit test keeps
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
            for (name, page) in man_pages()? {
                std::fs::write(dir.join(format!("{name}.1")), page)?;
            }
        }
        other => {
            eprintln!("gen-docs: unknown output {other}; use completions or man");
            std::process::exit(2);
        }
    }
    Ok(())
}

/// One page per command, named as users type the plugin: kubectl-argocd-eks(1),
/// kubectl-argocd-eks-add(1), ... Each ends with the command's examples as a verbatim block.
fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    const ROOT: &str = "kubectl-argocd-eks";
    let mut root = Cli::command().name(ROOT);
    root.build();
    let mut commands = vec![root.clone()];
    commands.extend(
        root.get_subcommands()
            .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
            // clap takes `&'static str` names (its `string` feature stays off): leaked once here.
            .map(|sub| {
                let name: &'static str = format!("{ROOT}-{}", sub.get_name()).leak();
                sub.clone().name(name).version(env!("CARGO_PKG_VERSION"))
            }),
    );
    let names: Vec<String> = commands.iter().map(|c| c.get_name().to_owned()).collect();
    let mut pages = Vec::new();
    for command in commands {
        let name = command.get_name().to_owned();
        let examples = command.get_after_help().map(|h| h.to_string());
        let man = clap_mangen::Man::new(command.clone());
        let mut page = Vec::new();
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        man.render_options_section(&mut page)?;
        if command.get_subcommands().next().is_some() {
            man.render_subcommands_section(&mut page)?;
        }
        if let Some(examples) = examples {
            page.extend_from_slice(b".SH EXAMPLES\n.nf\n");
            for line in examples.lines().skip_while(|l| *l == "Examples:") {
                page.extend_from_slice(
                    roff_line(line.strip_prefix("  ").unwrap_or(line)).as_bytes(),
                );
            }
            page.extend_from_slice(b".fi\n");
        }
        let others: Vec<String> = names
            .iter()
            .filter(|other| **other != name)
            .map(|other| format!("\\fB{}\\fR(1)", other.replace('-', "\\-")))
            .collect();
        page.extend_from_slice(format!(".SH SEE ALSO\n{}\n", others.join(", ")).as_bytes());
        man.render_version_section(&mut page)?;
        pages.push((name, page));
    }
    Ok(pages)
}

/// One line of text for a no-fill block: backslashes and hyphens escaped, and a leading
/// `.` or `'` kept from reading as a request.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}\n")
    } else {
        format!("{escaped}\n")
    }
}
