//! The one HTTP client every AWS SDK client of a run shares (one connection pool, one TLS
//! connector), and the platform's root certificates loaded beside start-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::OnceCell;

/// The SDK's default HTTPS client (rustls on aws-lc with the platform's root certificates,
/// HTTPS_PROXY / NO_PROXY from the environment), made once and set on the configuration, so
/// every client made from it (each region's EKS, IAM, STS, the AssumeRole credential
/// providers) shares one connection pool and one TLS set-up: a call reuses a connection an
/// earlier call to the same endpoint left open. A client made without one gets an HTTP client,
/// pool and TLS connector of its own. A plain-HTTP endpoint (AWS_ENDPOINT_URL=http://... of a
/// local emulator, as the sandbox's moto) is called without TLS when no proxy is set, so it
/// never waits for the root certificates.
pub(super) fn shared_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    let proxy = ProxyConfig::from_env();
    // A proxy (maybe itself behind TLS) is the TLS connector's to reach.
    let plain = if http_proxy_set(|name| std::env::var_os(name)) {
        None
    } else {
        without_root_certificates()
    };
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(proxy.clone()));
        connector.build()
    });
    SharedHttpClient::new(ConnectorOnFirstCall {
        client,
        plain,
        made: Arc::default(),
    })
}

/// The SDK's client with rustls and no root certificate at all, for http:// URIs only: it
/// connects without TLS and loads nothing (an https:// URI could not be verified, so it
/// fails). The same connector type as the TLS client's, so the binary carries one HTTP stack;
/// None: no TLS context could be made (the TLS client serves every URI).
fn without_root_certificates() -> Option<SharedHttpClient> {
    use aws_smithy_http_client::Builder;
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false))
        .build()
        .ok()?;
    Some(
        Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https(),
    )
}

/// Whether every AWS call goes to a plain-HTTP endpoint without a proxy (AWS_ENDPOINT_URL of a
/// local emulator): then no call needs the root certificates. A service's own endpoint
/// variable (AWS_ENDPOINT_URL_STS, ...) or a profile's endpoint_url may still ask for TLS; its
/// first call loads them then.
fn plain_endpoint(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let http = var("AWS_ENDPOINT_URL").is_some_and(|url| {
        url.to_string_lossy()
            .to_ascii_lowercase()
            .starts_with("http://")
    });
    http && !http_proxy_set(var)
}

/// Whether the environment names a proxy for http:// URIs: the variables hyper-util's
/// environment matcher reads for them (`ProxyConfig::from_env` is never "disabled", even with
/// none set, so it cannot tell).
fn http_proxy_set(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| var(name).is_some_and(|value| !value.is_empty()))
}

/// Loads the platform's root certificates on a thread of their own, while the run reads its
/// kubeconfig and AWS configuration: the SDK keeps them for the process (read once, on the
/// first AWS call otherwise, a few milliseconds of file reads and parsing in its way). A
/// connector is made and dropped for that (the certificates are the SDK's to load).
/// Not for a plain endpoint (see [`plain_endpoint`]).
pub(crate) fn load_root_certificates_early() {
    use aws_smithy_http_client::ConnectorBuilder;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    if plain_endpoint(|name| std::env::var_os(name)) {
        return; // the calls need no TLS: the CPU goes to the run's start instead
    }
    let loading = std::thread::Builder::new()
        .name("root-certificates".into())
        .spawn(|| {
            drop(
                ConnectorBuilder::default()
                    .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                    .build(),
            );
        });
    // No thread: the first AWS call loads them, as without this.
    drop(loading);
}

/// An HTTP client whose connector is made when the first call needs it (then kept, one per
/// timeout settings), on a blocking thread: making it waits for the platform's root
/// certificates (a few milliseconds), and the run's other work (the kube requests sent beside
/// the first AWS call) goes on meanwhile. The SDK's own client also builds a whole TLS
/// connector, the root certificates parsed again, at each client's construction, to throw it
/// away (it loads the platform's certificates early); with a client per region and account
/// that was most of a discovery's CPU.
#[derive(Debug)]
struct ConnectorOnFirstCall {
    client: SharedHttpClient,
    /// For http:// URIs: the SDK's connector without TLS (cheap to make, made on the call).
    plain: Option<SharedHttpClient>,
    made: Arc<Mutex<HashMap<TimeoutKey, Arc<OnceCell<SharedHttpConnector>>>>>,
}

/// Connectors differ by their connect and read timeouts (as the SDK's own cache keys them).
type TimeoutKey = (Option<Duration>, Option<Duration>);

impl HttpClient for ConnectorOnFirstCall {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let made = match self.made.lock() {
            Ok(mut made) => Arc::clone(made.entry(key).or_default()),
            // A panic elsewhere while the map was held: a connector of this call's own.
            Err(_) => Arc::default(),
        };
        SharedHttpConnector::new(MadeAside {
            client: self.client.clone(),
            plain: self.plain.clone(),
            settings: settings.clone(),
            components: components.clone(),
            made,
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.client.connector_metadata()
    }
}

/// A call through the connector for its settings, made on a blocking thread by the first call
/// (the others wait for it without blocking the runtime).
#[derive(Debug)]
struct MadeAside {
    client: SharedHttpClient,
    plain: Option<SharedHttpClient>,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
    made: Arc<OnceCell<SharedHttpConnector>>,
}

impl HttpConnector for MadeAside {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if let Some(plain) = &self.plain
            && request.uri().starts_with("http://")
        {
            return plain
                .http_connector(&self.settings, &self.components)
                .call(request);
        }
        if let Some(connector) = self.made.get() {
            return connector.call(request);
        }
        let (client, settings, components) = (
            self.client.clone(),
            self.settings.clone(),
            self.components.clone(),
        );
        let made = Arc::clone(&self.made);
        HttpConnectorFuture::new(async move {
            let connector = made
                .get_or_try_init(|| async move {
                    tokio::task::spawn_blocking(move || {
                        client.http_connector(&settings, &components)
                    })
                    .await
                    // The thread panicked making it (or the runtime is shutting down).
                    .map_err(|e| ConnectorError::other(Box::new(e), None))
                })
                .await?;
            connector.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
    use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
    use aws_smithy_http_client::Builder;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use std::io::{Read, Write};

    /// A loopback server answering `answers` requests with an empty 200, one connection each.
    fn answering(answers: usize) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/", listener.local_addr().expect("its address"));
        std::thread::spawn(move || {
            for stream in listener.incoming().take(answers) {
                let mut stream = stream.expect("a connection");
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        url
    }

    /// What a client's calls carry: tokio's sleep (the connectors' timeouts), the system clock.
    fn components() -> RuntimeComponents {
        RuntimeComponentsBuilder::for_tests()
            .with_sleep_impl(Some(SharedAsyncSleep::new(TokioSleep::new())))
            .with_time_source(Some(SharedTimeSource::new(SystemTimeSource::new())))
            .build()
            .expect("test components")
    }

    #[tokio::test]
    async fn calls_share_one_connector_per_timeouts_made_off_the_runtime_thread() {
        let url = answering(3);
        let client = ConnectorOnFirstCall {
            client: Builder::new().build_http(),
            plain: None,
            made: Arc::default(),
        };
        let components = components();
        let settings = |connect: u64| {
            HttpConnectorSettings::builder()
                .connect_timeout(Duration::from_secs(connect))
                .build()
        };
        for connect in [5, 5, 9] {
            let request = HttpRequest::get(url.as_str()).expect("a request");
            let response = client
                .http_connector(&settings(connect), &components)
                .call(request)
                .await
                .expect("the loopback server answers");
            assert_eq!(response.status().as_u16(), 200);
        }
        let made = client.made.lock().expect("not poisoned");
        assert_eq!(made.len(), 2, "one connector per timeout settings");
        assert!(made.values().all(|cell| cell.initialized()));
    }

    /// An environment holding only `set`.
    fn only<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |name| {
            set.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).into())
        }
    }

    #[test]
    fn a_proxy_for_http_uris_is_one_of_the_variables_hyper_util_reads() {
        assert!(!http_proxy_set(only(&[])));
        assert!(!http_proxy_set(only(&[("HTTP_PROXY", "")])));
        assert!(!http_proxy_set(only(&[("HTTPS_PROXY", "http://p:3128")])));
        assert!(!http_proxy_set(only(&[("NO_PROXY", "*")])));
        for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            assert!(http_proxy_set(only(&[(name, "http://p:3128")])), "{name}");
        }
    }

    #[test]
    fn root_certificates_are_left_unloaded_only_for_a_plain_endpoint_without_a_proxy() {
        let local = ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000");
        assert!(plain_endpoint(only(&[local])));
        assert!(plain_endpoint(only(&[(
            "AWS_ENDPOINT_URL",
            "HTTP://localhost:5000"
        )])));
        assert!(!plain_endpoint(only(&[])));
        assert!(!plain_endpoint(only(&[(
            "AWS_ENDPOINT_URL",
            "https://vpce.example"
        )])));
        assert!(!plain_endpoint(only(&[
            local,
            ("http_proxy", "http://p:3128")
        ])));
    }

    /// A client no call may reach.
    #[derive(Debug)]
    struct Unreachable;

    impl HttpClient for Unreachable {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            panic!("the TLS client was asked for an http:// URI")
        }
    }

    #[tokio::test]
    async fn a_plain_http_endpoint_is_called_without_the_tls_connector() {
        let url = answering(1);
        let client = ConnectorOnFirstCall {
            client: SharedHttpClient::new(Unreachable),
            plain: without_root_certificates(),
            made: Arc::default(),
        };
        let components = components();
        let request = HttpRequest::get(url.as_str()).expect("a request");
        let response = client
            .http_connector(&HttpConnectorSettings::default(), &components)
            .call(request)
            .await
            .expect("the loopback server answers");
        assert_eq!(response.status().as_u16(), 200);
        let made = client.made.lock().expect("not poisoned");
        assert!(
            made.values().all(|cell| !cell.initialized()),
            "no TLS connector was made"
        );
    }
}
