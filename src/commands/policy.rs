//! `policy`: print or create the IAM trust and permission policies for Argo CD's roles.

use crate::cli::settings::{PolicySettings, Settings};
use crate::commands::Ports;
use crate::error::{Error, Result};
use crate::ports::{Eks, Hub, Iam, Prompt};

pub async fn run<H: Hub, A: Eks + Iam, P: Prompt>(
    settings: &Settings,
    policy: &PolicySettings,
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let _ = (settings, ports, default_region, out);
    Err(Error::usage("policy is not implemented yet"))
}
