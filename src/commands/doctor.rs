//! `doctor`: check every link from Argo CD to each target and name the fix for each failure.

use crate::cli::settings::{Settings, TargetRef};
use crate::commands::Ports;
use crate::error::{Error, Result};
use crate::ports::{Eks, Hub, Iam, Prompt};

pub async fn run<H: Hub, A: Eks + Iam, P: Prompt>(
    settings: &Settings,
    clusters: &[TargetRef],
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let _ = (settings, ports, default_region, out);
    Err(Error::usage("doctor is not implemented yet"))
}
