//! What to do after `add` registered clusters (text only): restart Argo CD's pods when their
//! identity changed, run doctor, and apply a first Application aimed at each new cluster.

use std::io::{self, Write};

use serde_json::json;

use crate::core::action::Step;
use crate::core::plan::Plan;

pub(crate) const RESTART_NEEDED: &str =
    "Argo CD's pods pick up the new identity only when restarted (or pass --restart):";

/// Argo CD's own example application, the one its getting-started guide deploys.
const EXAMPLE_REPO: &str = "https://github.com/argoproj/argocd-example-apps.git";
const EXAMPLE_PATH: &str = "guestbook";

/// A DNS-1123 label from a cluster name (EKS names may hold `_` and capitals): the
/// Application's name and its destination namespace stay valid.
fn dns_label(text: &str) -> String {
    let label: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let label = label.trim_matches('-');
    label[..label.len().min(52)]
        .trim_end_matches('-')
        .to_owned()
}

/// A minimal Application that deploys the guestbook example to the cluster at `server`,
/// created in Argo CD's namespace `namespace`.
pub(crate) fn application(cluster: &str, server: &str, namespace: &str) -> serde_json::Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": format!("guestbook-{}", dns_label(cluster)), "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": EXAMPLE_REPO, "targetRevision": "HEAD", "path": EXAMPLE_PATH},
            "destination": {"server": server, "namespace": "guestbook"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    })
}

/// The numbered next steps after a successful `add`.
pub(crate) fn write_next_steps(
    out: &mut dyn Write,
    plan: &Plan,
    doctor: &str,
    restart: Option<&str>,
) -> io::Result<()> {
    writeln!(out, "\nNext steps:")?;
    let mut step = 0;
    let mut next = || {
        step += 1;
        step
    };
    if let Some(restart) = restart {
        writeln!(out, "  {}. {RESTART_NEEDED}\n       {restart}", next())?;
    }
    writeln!(
        out,
        "  {}. Check every link from Argo CD to the cluster:\n       {doctor}",
        next()
    )?;
    let secrets = plan.actions.iter().filter_map(|a| match &a.step {
        Step::ApplySecret { secret } => Some(secret),
        _ => None,
    });
    for (cluster, secret) in plan.clusters.iter().zip(secrets) {
        let Some(server) = secret.data.get("server") else {
            continue;
        };
        let manifest = application(&cluster.name, server, &secret.namespace);
        let yaml = serde_saphyr::to_string(&manifest).map_err(io::Error::other)?;
        writeln!(
            out,
            "  {}. Deploy Argo CD's guestbook example to {}: save this as app.yaml and run kubectl apply -f app.yaml",
            next(),
            cluster.name
        )?;
        for line in yaml.lines() {
            writeln!(out, "       {line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_application_is_named_after_the_cluster_and_aims_at_its_server() {
        let app = application("Team_B.prod", "https://B.eks.amazonaws.com", "gitops");
        assert_eq!(app["metadata"]["name"], "guestbook-team-b-prod");
        assert_eq!(app["metadata"]["namespace"], "gitops");
        assert_eq!(
            app["spec"]["destination"]["server"],
            "https://B.eks.amazonaws.com"
        );
        let long = application(&"x".repeat(100), "https://s", "argocd");
        let name = long["metadata"]["name"].as_str().unwrap();
        assert!(name.len() <= 63, "{name}");
    }
}
