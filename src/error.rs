//! The one error type of the tool: every message says what to do next, every kind has an exit code.

use std::process::ExitCode;

/// Exit codes (README "Exit codes"): distinct per kind of failure so scripts can branch on them.
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const DOCTOR_FOUND_PROBLEMS: u8 = 3;
    pub const PERMISSION_DENIED: u8 = 4;
    pub const CONFLICT: u8 = 5;
    pub const NOT_FOUND: u8 = 6;
    pub const WOULD_NOT_WORK: u8 = 7;
    pub const CANCELLED: u8 = 130;
}

/// The underlying error an [`Error`] was made from, kept for `-v`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("{what} was not found. {fix}")]
    NotFound { what: String, fix: String },

    #[error("permission denied: {what}. {fix}")]
    PermissionDenied {
        what: String,
        fix: String,
        /// The refusal as the API said it, when it came from an API.
        #[source]
        source: Option<Cause>,
    },

    #[error("{what}. {fix}")]
    Conflict { what: String, fix: String },

    #[error(
        "the registration would not work: {0} check(s) before writing failed, each with its fix above. Nothing was changed; apply the fixes and run again, or pass --force to write it anyway"
    )]
    WouldNotWork(usize),

    /// The target cannot be registered in its state (CREATING, DELETING, FAILED); `--force`
    /// does not change that.
    #[error("{what}. Nothing was changed")]
    NotReady { what: String },

    #[error("cancelled: nothing was changed")]
    Cancelled,

    /// Ctrl-C while writing: the run stopped before its next write.
    #[error(
        "interrupted (Ctrl-C) before the next write: the steps above say what was written and what was not. Run the same command again to finish: its plan shows only what is left"
    )]
    Interrupted,

    #[error("doctor found {0} problem(s); each has its fix above")]
    ProblemsFound(usize),

    #[error("could not {action}: {message}. {fix}")]
    Kube {
        action: String,
        /// What the hub said (its Status message), or how the request failed.
        message: String,
        fix: String,
        #[source]
        source: Box<kube::Error>,
    },

    #[error("AWS {operation} failed: {message}. {fix}")]
    Aws {
        operation: String,
        message: String,
        fix: String,
        #[source]
        source: Option<Cause>,
    },

    #[error(
        "could not reach {server}: {message}. Check that the endpoint is reachable from here (public/private endpoint access) and that the CA matches"
    )]
    Connect {
        server: String,
        message: String,
        #[source]
        source: Cause,
    },

    /// No answer from a server (refused, reset, DNS, TLS, or nothing within `--timeout`).
    #[error("could not reach {service} at {url}: {reason}. {fix}")]
    Unreachable {
        /// Which server, as the user knows it: "EKS", "STS", "the Kubernetes API of context X".
        service: String,
        url: String,
        reason: String,
        fix: String,
        #[source]
        source: Cause,
    },

    #[error(
        "{at} does not accept these credentials ({message}). If its region is an opt-in region, enable it for the account (aws account enable-region) or leave it out of --region; else check who you are (aws sts get-caller-identity) or pick another --profile"
    )]
    CredentialsRefused {
        at: String,
        message: String,
        #[source]
        source: Cause,
    },

    #[error(
        "{at} says the AWS credentials have expired ({message}). Get new ones (aws sso login for an SSO profile, or fresh session credentials for AWS_SESSION_TOKEN or the profile) and run the same command again"
    )]
    CredentialsExpired {
        at: String,
        message: String,
        #[source]
        source: Cause,
    },

    #[error(
        "found no AWS credentials: {message}. Pass --profile with a profile of your AWS config (aws configure list-profiles), run aws configure or aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials {
        message: String,
        #[source]
        source: Cause,
    },

    #[error("could not load the kubeconfig: {message}. {fix}")]
    Kubeconfig {
        message: String,
        fix: String,
        #[source]
        source: Option<Cause>,
    },

    #[error(
        "after applying, {what} does not match what was written: {detail}. Someone else may be changing it; run the command again to see the plan"
    )]
    VerifyFailed { what: String, detail: String },

    #[error("could not write the output: {0}")]
    Output(#[from] std::io::Error),

    #[error(
        "could not read the answer: {0}. Pass the values as flags and --yes to run without prompts"
    )]
    Prompt(#[source] inquire::InquireError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Kubeconfig { .. } | Error::Prompt(_) => exit::USAGE,
            Error::NotFound { .. } => exit::NOT_FOUND,
            Error::PermissionDenied { .. }
            | Error::CredentialsRefused { .. }
            | Error::CredentialsExpired { .. }
            | Error::NoCredentials { .. } => exit::PERMISSION_DENIED,
            Error::Conflict { .. } => exit::CONFLICT,
            Error::Cancelled | Error::Interrupted => exit::CANCELLED,
            Error::ProblemsFound(_) => exit::DOCTOR_FOUND_PROBLEMS,
            Error::WouldNotWork(_) | Error::NotReady { .. } => exit::WOULD_NOT_WORK,
            Error::Kube { .. }
            | Error::Connect { .. }
            | Error::Unreachable { .. }
            | Error::Aws { .. }
            | Error::VerifyFailed { .. }
            | Error::Output(_) => exit::FAILURE,
        }
    }

    /// AWS did not accept the credentials at all (a region not enabled, a key it never issued).
    pub fn is_credentials_refused(&self) -> bool {
        matches!(self, Error::CredentialsRefused { .. })
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// A refusal the tool found itself (an access review, a plan), with no API error behind it.
    pub fn denied(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::PermissionDenied {
            what: what.into(),
            fix: fix.into(),
            source: None,
        }
    }

    /// What led to this error, outermost first, for `-v`.
    pub fn causes(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::successors(std::error::Error::source(self), |e| e.source())
            .map(ToString::to_string)
    }
}

impl From<Error> for ExitCode {
    fn from(error: Error) -> Self {
        ExitCode::from(error.exit_code())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
