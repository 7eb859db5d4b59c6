//! The hub behind kube::Client: connecting through the kubeconfig, and what reads and writes
//! share (errors, lists); one file each for reads, writes and other clusters.

pub(crate) mod objects;
mod read;
mod targets;
mod transport;
mod write;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use crate::cli::settings::Timeouts;
use crate::core::model::{FIELD_MANAGER, SECRET_TYPE_CLUSTER, SECRET_TYPE_LABEL, USER_AGENT};
use crate::core::secret::ObservedSecret;
use crate::error::{Error, Result};
use crate::ports::{HubContext, Write};
use objects::observed_secret;

pub(crate) struct KubeHub {
    client: Client,
    context: HubContext,
    /// The kubeconfig as read, to reach other clusters it has contexts for.
    kubeconfig: Kubeconfig,
    /// `--timeout`, for the clients of other clusters too.
    timeouts: Timeouts,
}

impl KubeHub {
    /// Connect to the hub named by `--kubeconfig` (else KUBECONFIG, several paths merged, else
    /// ~/.kube/config) and `--context` (else the current context).
    pub(crate) async fn connect(
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
        timeouts: Timeouts,
    ) -> Result<Self> {
        let file = match kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(kubeconfig_error)?;
        let hub_context = describe_context(&file, context)?;
        let client = client_for(file.clone(), &hub_context.context, timeouts).await?;
        Ok(KubeHub {
            client,
            context: hub_context,
            kubeconfig: file,
            timeouts,
        })
    }
}

/// The kubeconfig that could not be read or parsed, said without Rust's quoting of paths.
fn kubeconfig_error(error: KubeconfigError) -> Error {
    const FIX: &str = "Point --kubeconfig (or KUBECONFIG) at a kubeconfig file, e.g. the one aws eks update-kubeconfig writes";
    let (message, fix) = match &error {
        KubeconfigError::ReadConfig(io, path) => (
            format!("could not read {}: {io}", path.display()),
            FIX.to_owned(),
        ),
        KubeconfigError::Parse(parse) => (
            format!("it is not valid YAML: {parse}"),
            "Fix the file (kubectl config view shows what kubectl makes of it), or point --kubeconfig at another".to_owned(),
        ),
        KubeconfigError::FindPath => (
            "there is no KUBECONFIG and no ~/.kube/config".to_owned(),
            FIX.to_owned(),
        ),
        other => (other.to_string(), FIX.to_owned()),
    };
    Error::Kubeconfig {
        message,
        fix,
        source: Some(Box::new(error)),
    }
}

/// A client for context `context` of kubeconfig `file`; TLS is always verified.
pub(super) async fn client_for(
    file: Kubeconfig,
    context: &str,
    timeouts: Timeouts,
) -> Result<Client> {
    let to_error = |source: crate::error::Cause| {
        Error::Kubeconfig {
        message: format!("context {context}: {source}"),
        fix: "Fix that context's cluster and user in the kubeconfig (kubectl config view), or pick another with --context".into(),
        source: Some(source),
    }
    };
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(file, &options)
        .await
        .map_err(|e| to_error(Box::new(e)))?;
    if config.accept_invalid_certs {
        return Err(Error::Kubeconfig {
            message: format!(
                "context {context}'s cluster sets insecure-skip-tls-verify, and this tool never turns TLS verification off"
            ),
            fix: "Remove insecure-skip-tls-verify from that cluster in the kubeconfig and give its CA instead (certificate-authority-data; aws eks update-kubeconfig writes it)".into(),
            source: None,
        });
    }
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    client_with(config, context, timeouts).map_err(|e| to_error(Box::new(e)))
}

/// A client for `config` under `--timeout` (connect, each read and write, the whole call),
/// retrying idempotent requests on transient failures, its transport errors naming the server
/// (context `context`). kube's own retry is off: it would also resend creates.
pub(super) fn client_with(
    mut config: Config,
    context: &str,
    timeouts: Timeouts,
) -> kube::Result<Client> {
    config.connect_timeout = Some(timeouts.connect);
    config.read_timeout = Some(timeouts.call);
    config.write_timeout = Some(timeouts.call);
    // A pooled connection's idle time must not count against the next answer's read timeout.
    config.reset_reader_on_write = true;
    config.default_retry = false;
    let server = Arc::new(transport::Server {
        context: context.to_owned(),
        url: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned(),
        call: timeouts.call,
    });
    Ok(kube::client::ClientBuilder::try_from(config)?
        // Retry needs a service it can clone; kube's stack is boxed, the buffer makes it so.
        .with_layer(&tower::buffer::BufferLayer::new(64))
        .with_layer(&tower::retry::RetryLayer::new(
            transport::RetryIdempotent::new(),
        ))
        .with_layer(&transport::NameServerLayer(server))
        .build())
}

/// The context's name, cluster, server and exec arguments, as the kubeconfig states them.
fn describe_context(file: &Kubeconfig, wanted: Option<&str>) -> Result<HubContext> {
    let contexts: Vec<&str> = file.contexts.iter().map(|c| c.name.as_str()).collect();
    let choose = if contexts.is_empty() {
        "The kubeconfig has no contexts: add one (aws eks update-kubeconfig --name CLUSTER --region REGION) or point --kubeconfig at another file".to_owned()
    } else {
        format!(
            "Pass --context with one of its contexts ({}), or set one with kubectl config use-context",
            contexts.join(", ")
        )
    };
    let name = wanted
        .map(str::to_owned)
        .or_else(|| file.current_context.clone().filter(|c| !c.is_empty()))
        .ok_or_else(|| Error::Kubeconfig {
            message: "it has no current context".into(),
            fix: choose.clone(),
            source: None,
        })?;
    let context = file
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| Error::Kubeconfig {
            message: format!("it has no context named {name}"),
            fix: choose.clone(),
            source: None,
        })?;
    let server = file
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default();
    let exec_args = file
        .auth_infos
        .iter()
        .find(|a| Some(&a.name) == context.user.as_ref())
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref())
        .map(|exec| {
            exec.command
                .iter()
                .cloned()
                .chain(exec.args.iter().flatten().cloned())
                .collect()
        })
        .unwrap_or_default();
    Ok(HubContext {
        context: name,
        cluster: context.cluster.clone(),
        server,
        exec_args,
    })
}

/// The pod template annotation `kubectl rollout restart` sets (and so does `--restart`).
pub(super) const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Turn a kube error into one that says what to do; 403 is a permission problem, a server
/// that did not answer is named with what to try. Otherwise the message is the API server's
/// own words, or for no answer the innermost cause (connection refused, the certificate, a
/// timeout); the whole error stays the source, for -v.
pub(super) fn kube_error(action: String, error: kube::Error) -> Error {
    if let Some(unanswered) = transport::unanswered(&error) {
        let server = &unanswered.server;
        return Error::Unreachable {
            service: format!("the Kubernetes API of context {}", server.context),
            url: server.url.clone(),
            reason: format!("{} (trying to {action})", unanswered.reason),
            fix: format!(
                "Check that it answers (kubectl --context {} get --raw /readyz), the network and any proxy (HTTPS_PROXY), then run the command again; if it is only slow, give it longer with --timeout (or ARGOCD_EKS_TIMEOUT); -v shows more",
                server.context
            ),
            source: Box::new(error),
        };
    }
    if let kube::Error::Api(status) = &error
        && status.code == 403
    {
        return Error::PermissionDenied {
            what: format!("the hub refused to {action}: {}", status.message),
            fix: "Ask a cluster admin for that RBAC permission (check with kubectl auth can-i), or use --context with an identity that has it".into(),
            source: Some(Box::new(error)),
        };
    }
    if let kube::Error::Api(status) = &error
        && status.code == 409
    {
        // Someone else wrote the object between this run's read and its write.
        return Error::Conflict {
            what: format!("the hub refused to {action}: {}", status.message),
            fix: "Someone changed it meanwhile; run the command again to see the new plan".into(),
        };
    }
    let reachable = "Check that the hub's API server is reachable from here (kubectl --context CONTEXT cluster-info), then try again";
    // The API's own words, not the client's Debug rendering of its Status (that stays the
    // source, for -v); without an answer, the innermost cause (connection refused, the
    // certificate, a timeout).
    let (message, fix) = match &error {
        kube::Error::Api(status) if matches!(status.code, 400 | 422) => (
            status.message.clone(),
            "The hub refused the object: a validation or an admission policy named above did; ask the hub's admins about it, then run the same command again",
        ),
        kube::Error::Api(status) => (
            format!("{} (HTTP {})", status.message, status.code),
            reachable,
        ),
        other => {
            let reason = innermost_cause(other);
            if reason.contains("certificate") {
                (
                    format!(
                        "the hub's TLS certificate does not verify against the kubeconfig's CA ({reason})"
                    ),
                    "Put the hub's own CA in the kubeconfig (certificate-authority-data; aws eks update-kubeconfig writes it); this tool never turns TLS verification off",
                )
            } else {
                (reason, reachable)
            }
        }
    };
    Error::Kube {
        action,
        message,
        fix: fix.into(),
        source: Box::new(error),
    }
}

/// The deepest cause's words (e.g. "Connection refused (os error 111)"), else the error's.
pub(super) fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

pub(super) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The call's result, or None when the object is not there; errors say it tried to `action`.
pub(super) fn found<T>(
    result: kube::Result<T>,
    action: impl FnOnce() -> String,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(kube_error(action(), e)),
    }
}

/// The items of `api` that `params` selects; errors say it tried to `action`.
pub(super) async fn list<K>(
    api: Api<K>,
    params: &ListParams,
    action: impl FnOnce() -> String,
) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(params).await {
        Ok(list) => Ok(list.items),
        Err(e) => Err(kube_error(action(), e)),
    }
}

/// The cluster Secrets `api` reaches; errors say it tried to `action`.
pub(super) async fn cluster_secrets(
    api: Api<Secret>,
    action: impl FnOnce() -> String,
) -> Result<Vec<ObservedSecret>> {
    let selector = format!("{SECRET_TYPE_LABEL}={SECRET_TYPE_CLUSTER}");
    let secrets = list(api, &ListParams::default().labels(&selector), action).await?;
    Ok(secrets.iter().map(observed_secret).collect())
}

pub(super) fn apply_params(write: Write) -> PatchParams {
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = write == Write::ServerDryRun;
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_description_reads_exec_args() {
        let file = Kubeconfig::from_yaml(
            r#"
apiVersion: v1
kind: Config
current-context: hub
clusters:
- name: hub-cluster
  cluster: {server: "https://hub.example"}
contexts:
- name: hub
  context: {cluster: hub-cluster, user: hub-user}
- name: other
  context: {cluster: hub-cluster}
users:
- name: hub-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, argocd-hub]
"#,
        )
        .unwrap();
        let hub = describe_context(&file, None).unwrap();
        assert_eq!(hub.context, "hub");
        assert_eq!(hub.server, "https://hub.example");
        assert_eq!(hub.exec_args[0], "aws");
        assert_eq!(hub.exec_args.last().unwrap(), "argocd-hub");
        assert!(
            describe_context(&file, Some("other"))
                .unwrap()
                .exec_args
                .is_empty()
        );
        assert!(matches!(
            describe_context(&file, Some("nope")),
            Err(Error::Kubeconfig { .. })
        ));
    }
}
