//! `remove`: unregister clusters, removing identity and access only when nothing else needs them.

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
    Err(Error::usage("remove is not implemented yet"))
}
