//! The command line, as clap derives it: global kubectl/AWS-style flags and one struct per command.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cli::examples;

/// Flag groups in `--help`, in kubectl's style.
const TARGET: &str = "Target";
const IDENTITY: &str = "Identity";
const SECRET: &str = "Secret";
const TARGET_ACCESS: &str = "Target access";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-argocd_eks",
    bin_name = "kubectl argocd-eks",
    version,
    about = "Register Amazon EKS clusters with Argo CD, with the AWS identity Argo CD needs",
    long_about = "Register Amazon EKS clusters with Argo CD from your current kube context (the \
cluster where Argo CD runs): fetch the target's endpoint and CA, write Argo CD's cluster Secret, \
and give Argo CD's service accounts their AWS identity (IRSA annotation or EKS Pod Identity).",
    after_help = examples::ROOT
)]
pub struct Cli {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register EKS clusters with Argo CD (Secret + identity), showing the plan first
    #[command(after_help = examples::ADD)]
    Add(Box<AddArgs>),
    /// List the Argo CD cluster Secrets that point at EKS, with identity and health
    #[command(after_help = examples::LIST)]
    List,
    /// Unregister clusters: delete the Secret, and identity or access nothing else still needs
    #[command(after_help = examples::REMOVE)]
    Remove(RemoveArgs),
    /// Check every link from Argo CD to the target cluster and print the fix for each failure
    #[command(after_help = examples::DOCTOR)]
    Doctor(DoctorArgs),
    /// Print (or --create) the IAM trust and permission policies for Argo CD's roles
    #[command(after_help = examples::POLICY)]
    Policy(PolicyArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, or kubectl's plugin script)
    #[command(after_help = examples::COMPLETION)]
    Completion(CompletionArgs),
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Registered clusters: name, ARN, or the Secret's name
    #[arg(value_name = "CLUSTER", required = true)]
    pub clusters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Registered clusters to check (name, ARN, or Secret name); default all
    #[arg(value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// The EKS Argo CD capability's role, to check its access to capability-format clusters
    #[arg(long, value_name = "ARN", help_heading = TARGET_ACCESS)]
    pub capability_role: Option<String>,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Identity mode the management role's trust policy is for [default: auto]
    #[arg(long, value_enum, help_heading = IDENTITY)]
    pub identity: Option<IdentityArg>,
    /// The management role (hub account) [default: role/argocd-management in the caller's account]
    #[arg(long, value_name = "ARN", help_heading = IDENTITY)]
    pub management_role_arn: Option<String>,
    /// Target roles the management role may assume; repeatable
    #[arg(long = "role-arn", value_name = "ARN", help_heading = IDENTITY)]
    pub role_arns: Vec<String>,
    /// The hub's own EKS cluster name, when the kube context does not tell it
    #[arg(long, value_name = "NAME", help_heading = IDENTITY)]
    pub hub_cluster: Option<String>,
    /// Create or update the roles (and the hub's IAM OIDC provider for IRSA) instead of printing
    #[arg(long)]
    pub create: bool,
    /// Print what this tool itself needs instead: your IAM policy (iam), the hub's RBAC
    /// (rbac), or both (all); --management-role-arn and --role-arn narrow the role statements
    #[arg(long, value_enum, value_name = "WHAT", num_args = 0..=1, default_missing_value = "all",
          require_equals = true, conflicts_with_all = ["create", "identity", "hub_cluster"])]
    pub permissions: Option<PermissionsArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionsArg {
    /// The IAM policy and the RBAC
    All,
    /// The IAM policy document of the caller (JSON), for aws iam create-policy
    Iam,
    /// The hub's Role and ClusterRole, for kubectl apply -f -
    Rbac,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Kubernetes")]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context of the cluster where Argo CD runs (default: current context)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace Argo CD is installed in [default: argocd, else the one that has Argo CD]
    #[arg(long, global = true, value_name = "NS")]
    pub argocd_namespace: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// AWS profile to use (default: AWS_PROFILE, then the default chain)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region to look for clusters in; repeatable (default: AWS_REGION or the profile's)
    #[arg(long = "region", global = true, value_name = "REGION")]
    pub regions: Vec<String>,
    /// Look for clusters in every region EKS runs in
    #[arg(long, global = true, conflicts_with = "regions")]
    pub all_regions: bool,
    /// Also look for clusters in another account through this role; repeatable
    #[arg(long = "assume-role", global = true, value_name = "ARN")]
    pub assume_roles: Vec<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Network")]
pub struct NetworkArgs {
    /// How long one call to a server (AWS, the hub) may take, its retries included: seconds
    /// or a duration like 10s, 500ms, 2m [default: 30s; connecting: at most 10s]. Throttling,
    /// 5xx answers and dropped connections are retried with backoff (Kubernetes: reads and
    /// server-side applies only); AWS follows the profile's retry_mode and max_attempts
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "ARGOCD_EKS_TIMEOUT"
    )]
    pub timeout: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct RunArgs {
    /// Output format. With add --dry-run, yaml and json are the Kubernetes objects it would
    /// apply (a List for kubectl apply -f -); plan-yaml and plan-json are the plan as data
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Show the plan and write nothing (client), or also let the API server validate it (server)
    #[arg(long, global = true, value_enum, default_value_t = DryRun::None, num_args = 0..=1,
          default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
    /// Apply without asking for confirmation
    #[arg(short, long, global = true)]
    pub yes: bool,
    /// Never prompt; a missing value is an error that names its flag
    #[arg(long, global = true)]
    pub no_interactive: bool,
    /// More logging on stderr; repeat for more
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No colours (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Yaml,
    Json,
    /// The plan and its outcome as YAML (add, remove, policy), whatever --dry-run says.
    PlanYaml,
    /// The plan and its outcome as JSON.
    PlanJson,
}

impl OutputFormat {
    /// The same document format for a report: plan-yaml is yaml, plan-json is json.
    pub fn for_report(self) -> Self {
        match self {
            OutputFormat::PlanYaml => OutputFormat::Yaml,
            OutputFormat::PlanJson => OutputFormat::Json,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    None,
    Client,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdentityArg {
    /// Pod identity when the hub is EKS with the pod identity agent, else IRSA
    Auto,
    Irsa,
    PodIdentity,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Target EKS clusters, by name (found in --region) or by ARN; none on a terminal: pick them
    /// from a list (type to filter by name, region, account or tag)
    #[arg(value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// Target EKS cluster (same as the positional CLUSTER); repeatable
    #[arg(long = "cluster", value_name = "CLUSTER", help_heading = TARGET)]
    pub cluster_flags: Vec<String>,
    /// IAM role in the target's account that Argo CD assumes (omit for direct mode, where the
    /// management role itself is given access to the target)
    #[arg(long, value_name = "ARN", help_heading = IDENTITY)]
    pub role_arn: Option<String>,
    /// With pod identity: EKS assumes --role-arn for Argo CD's pods (the associations'
    /// targetRoleArn, native chaining), so the Secret has no roleARN
    #[arg(long, requires = "role_arn")]
    pub native_chaining: bool,
    /// IAM role Argo CD's pods run as (hub account); left out on a terminal: pick a role whose
    /// trust fits, or create one (policy --create's plan and question first)
    #[arg(long, value_name = "ARN", help_heading = IDENTITY)]
    pub management_role_arn: Option<String>,
    /// How Argo CD's pods get the management role [default: auto]
    #[arg(long, value_enum, help_heading = IDENTITY)]
    pub identity: Option<IdentityArg>,
    /// The hub's own EKS cluster name, when the kube context does not tell it
    #[arg(long, value_name = "NAME", help_heading = IDENTITY)]
    pub hub_cluster: Option<String>,
    /// Argo CD's display name for the cluster (default: the cluster ARN)
    #[arg(long, value_name = "NAME", help_heading = SECRET)]
    pub name: Option<String>,
    /// Name of the cluster Secret (default: derived from the cluster ARN)
    #[arg(long, value_name = "NAME", help_heading = SECRET)]
    pub secret_name: Option<String>,
    /// Label for the Secret (for ApplicationSet cluster generators); repeatable
    #[arg(long = "label", value_name = "KEY=VALUE", help_heading = SECRET)]
    pub labels: Vec<String>,
    /// Annotation for the Secret; repeatable
    #[arg(long = "annotation", value_name = "KEY=VALUE", help_heading = SECRET)]
    pub annotations: Vec<String>,
    /// Argo CD project the cluster belongs to
    #[arg(long, value_name = "PROJECT", help_heading = SECRET)]
    pub project: Option<String>,
    /// Namespaces Argo CD may manage on the cluster (comma-separated; default all)
    #[arg(long, value_name = "NS,NS", value_delimiter = ',', help_heading = SECRET)]
    pub namespaces: Vec<String>,
    /// With --namespaces: also manage cluster-scoped resources
    #[arg(long, help_heading = SECRET)]
    pub cluster_resources: bool,
    /// Switch service accounts that already use another role to the management role
    #[arg(long, help_heading = IDENTITY)]
    pub replace_identity: bool,
    /// EKS access policy for the role that reaches the target [default: AmazonEKSClusterAdminPolicy]
    #[arg(long, value_name = "NAME", help_heading = TARGET_ACCESS)]
    pub access_policy: Option<String>,
    /// Scope the access policy to these namespaces instead of the whole cluster
    #[arg(long, value_name = "NS,NS", value_delimiter = ',', help_heading = TARGET_ACCESS)]
    pub access_namespaces: Vec<String>,
    /// Leave the target's access entries alone (you map the role yourself)
    #[arg(long, conflicts_with_all = ["access_policy", "access_namespaces"], help_heading = TARGET_ACCESS)]
    pub skip_access: bool,
    /// Restart Argo CD's workloads when their identity changed, so pods pick it up
    #[arg(long, help_heading = IDENTITY)]
    pub restart: bool,
    /// Write the registration even when the checks before writing say it cannot work (exit
    /// code 7 without it); checks that cannot tell never stop it
    #[arg(long)]
    pub force: bool,
    /// Register for AWS's managed Argo CD (the EKS Argo CD capability) with this capability
    /// role: the Secret names the cluster by ARN and the role gets the access entry
    #[arg(long, value_name = "ARN", conflicts_with_all = [
        "identity", "role_arn", "management_role_arn", "restart", "replace_identity", "hub_cluster"
    ], help_heading = TARGET)]
    pub capability_role: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to print the completion script for
    #[arg(value_enum)]
    pub shell: crate::cli::completion::CompletionShell,
}
