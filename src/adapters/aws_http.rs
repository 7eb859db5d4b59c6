//! The one HTTP client every AWS SDK client of a run shares (one connection pool, one TLS
//! connector), and the platform's root certificates loaded beside start-up.

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK's default HTTPS client (rustls on aws-lc with the platform's root certificates,
/// HTTPS_PROXY / NO_PROXY from the environment), made once and set on the configuration, so
/// every client made from it (each region's EKS, IAM, STS, the AssumeRole credential
/// providers) shares one connection pool and one TLS set-up: a call reuses a connection an
/// earlier call to the same endpoint left open. A client made without one gets an HTTP client,
/// pool and TLS connector of its own.
pub(super) fn shared_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(ConnectorOnFirstCall(client))
}

/// Loads the platform's root certificates on a thread of their own, while the run reads its
/// kubeconfig and AWS configuration: the SDK keeps them for the process (read once, on the
/// first AWS call otherwise, a few milliseconds of file reads and parsing in its way). A
/// connector is made and dropped for that (the certificates are the SDK's to load).
pub(crate) fn load_root_certificates_early() {
    use aws_smithy_http_client::ConnectorBuilder;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
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
/// timeout settings). The SDK's own client also builds a whole TLS connector, the root
/// certificates parsed again, at each client's construction, to throw it away (it loads the
/// platform's certificates early); with a client per region and account that was most of a
/// discovery's CPU.
#[derive(Debug)]
struct ConnectorOnFirstCall(SharedHttpClient);

impl HttpClient for ConnectorOnFirstCall {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
