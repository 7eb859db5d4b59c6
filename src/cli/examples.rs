//! The Examples section of each command's help, as kubectl prints it: commands a newcomer
//! can copy, each under a comment saying when to use it.

pub(crate) const ROOT: &str = "\
Examples:
  # From nothing to a working registration: the IAM roles, the cluster, a check
  kubectl argocd-eks policy --create --region eu-west-1
  kubectl argocd-eks add --region eu-west-1
  kubectl argocd-eks doctor

  # What is registered, and is it healthy
  kubectl argocd-eks list

Use \"kubectl argocd-eks <command> --help\" for more about a command.";

pub(crate) const ADD: &str = "\
Examples:
  # Guided (on a terminal): pick clusters from a list (type to filter; a,b: both), then
  # the identity and the roles: roles whose trust fits are offered, or a new one is made
  # after its plan; Esc goes back one question
  kubectl argocd-eks add --region eu-west-1 --region us-east-1

  # IRSA: Argo CD's service accounts get the eks.amazonaws.com/role-arn annotation
  kubectl argocd-eks add prod --region eu-west-1 --identity irsa \\
    --management-role-arn arn:aws:iam::111111111111:role/argocd-management

  # EKS Pod Identity: one association per service account on the hub's EKS cluster
  kubectl argocd-eks add prod --region eu-west-1 --identity pod-identity \\
    --hub-cluster hub --management-role-arn arn:aws:iam::111111111111:role/argocd-management

  # Cross-account: find the cluster through a role in its account; Argo CD assumes
  # argocd-deployer there, which gets the cluster's access entry
  kubectl argocd-eks add arn:aws:eks:eu-west-1:222222222222:cluster/prod \\
    --assume-role arn:aws:iam::222222222222:role/eks-reader \\
    --management-role-arn arn:aws:iam::111111111111:role/argocd-management \\
    --role-arn arn:aws:iam::222222222222:role/argocd-deployer

  # CI: no prompts, apply at once, a JSON report on stdout (exit code 0 when done)
  kubectl argocd-eks add prod --region eu-west-1 --no-interactive --yes -o json \\
    --management-role-arn arn:aws:iam::111111111111:role/argocd-management

  # The Kubernetes objects it would apply, as a List to commit to Git or pipe to kubectl
  kubectl argocd-eks add prod --region eu-west-1 --dry-run=client -o yaml \\
    --management-role-arn arn:aws:iam::111111111111:role/argocd-management > prod.yaml

  # See the plan and let the API server validate it; nothing is written
  kubectl argocd-eks add prod --region eu-west-1 --dry-run=server \\
    --management-role-arn arn:aws:iam::111111111111:role/argocd-management

  # Labels for ApplicationSet cluster generators, and pods restarted to get the identity
  kubectl argocd-eks add prod --region eu-west-1 --label env=prod --label team=web \\
    --management-role-arn arn:aws:iam::111111111111:role/argocd-management --restart

  # AWS's managed Argo CD (the EKS Argo CD capability)
  kubectl argocd-eks add prod --region eu-west-1 \\
    --capability-role arn:aws:iam::111111111111:role/argocd-capability";

pub(crate) const LIST: &str = "\
Examples:
  # Every EKS cluster Argo CD knows, with its identity mode, role and health
  kubectl argocd-eks list

  # The same for scripts, from Argo CD in another namespace
  kubectl argocd-eks list --argocd-namespace gitops -o json";

pub(crate) const REMOVE: &str = "\
Examples:
  # Unregister a cluster: shows what goes and what stays, then asks
  kubectl argocd-eks remove prod

  # In CI, by ARN, without a prompt
  kubectl argocd-eks remove arn:aws:eks:eu-west-1:222222222222:cluster/prod --yes";

pub(crate) const DOCTOR: &str = "\
Examples:
  # Check every registered cluster; exit code 3 when something is broken
  kubectl argocd-eks doctor

  # One cluster, as JSON, with the fix for each failed check
  kubectl argocd-eks doctor prod -o json

  # A cluster registered for the EKS Argo CD capability
  kubectl argocd-eks doctor prod --capability-role arn:aws:iam::111111111111:role/argocd-capability";

pub(crate) const POLICY: &str = "\
Examples:
  # Print the management role's trust and permission policies (and the aws commands)
  kubectl argocd-eks policy --region eu-west-1

  # With a target role in another account, for pod identity
  kubectl argocd-eks policy --region eu-west-1 --identity pod-identity \\
    --role-arn arn:aws:iam::222222222222:role/argocd-deployer

  # Create or update the roles (and the hub's IAM OIDC provider for IRSA) after a plan
  kubectl argocd-eks policy --region eu-west-1 --identity irsa --create";

pub(crate) const COMPLETION: &str = "\
Examples:
  # bash (add to ~/.bashrc)
  source <(kubectl argocd-eks completion bash)

  # zsh (add to ~/.zshrc, after compinit)
  source <(kubectl argocd-eks completion zsh)

  # fish
  kubectl argocd-eks completion fish > ~/.config/fish/completions/kubectl-argocd_eks.fish

  # PowerShell (add to $PROFILE)
  kubectl argocd-eks completion powershell | Out-String | Invoke-Expression

  # kubectl argocd-eks <TAB> (kubectl >= 1.26): a script kubectl finds on PATH
  kubectl argocd-eks completion kubectl > ~/.krew/bin/kubectl_complete-argocd_eks
  chmod +x ~/.krew/bin/kubectl_complete-argocd_eks";

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::args::Cli;

    /// Every example command, continuation lines joined, up to a `>` or `|`.
    fn commands(text: &str) -> Vec<String> {
        let joined = text.replace(" \\\n", " ");
        joined
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("kubectl argocd-eks "))
            .map(|line| {
                line.split(['>', '|'])
                    .next()
                    .unwrap_or(line)
                    .trim()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_example_is_a_command_line_that_parses() {
        let all = [
            super::ROOT,
            super::ADD,
            super::LIST,
            super::REMOVE,
            super::DOCTOR,
            super::POLICY,
            super::COMPLETION,
        ];
        let mut count = 0;
        for text in all {
            for command in commands(text) {
                let words = command.split_whitespace().skip(2);
                let args = std::iter::once("kubectl-argocd_eks").chain(words);
                if let Err(error) = Cli::try_parse_from(args) {
                    panic!("the example `{command}` does not parse:\n{error}");
                }
                count += 1;
            }
        }
        assert!(count >= 20, "only {count} examples found");
    }
}
