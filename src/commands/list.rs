//! `list`: the Argo CD cluster Secrets that point at EKS, with identity mode, role and health.

use crate::cli::settings::Settings;
use crate::commands::Ports;
use crate::error::{Error, Result};
use crate::ports::{Eks, Hub, Iam, Prompt};

pub async fn run<H: Hub, A: Eks + Iam, P: Prompt>(
    settings: &Settings,
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let _ = (settings, ports, default_region, out);
    Err(Error::usage("list is not implemented yet"))
}
