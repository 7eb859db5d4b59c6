//! Acting as an assumed role: its configuration, and its first credentials asked for at once.

use std::sync::{Mutex, PoisonError};

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use tokio::sync::oneshot;

use super::aws_http::shared_https_client;
use crate::core::model::RoleArn;

/// The same configuration acting as `role` (sts:AssumeRole, refreshed by the SDK). Its first
/// AssumeRole goes out at once, on a thread of its own: it is the first link of every chain
/// of calls to that account (discovery's lists wait for it), and the run's own thread has the
/// rest of start-up to do (kube's client, every region's EKS client, the caller's own lists).
pub(crate) async fn assume_role_config(base: &SdkConfig, role: &RoleArn) -> SdkConfig {
    let provider = role_provider(base, role).await;
    let first = ask_on_a_thread(base.clone(), role.clone());
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(AskedAtOnce {
            role: provider,
            first: Mutex::new(first),
        }))
        .build()
}

async fn role_provider(base: &SdkConfig, role: &RoleArn) -> AssumeRoleProvider {
    AssumeRoleProvider::builder(role.to_string())
        .session_name("kubectl-argocd-eks")
        .configure(base)
        .build()
        .await
}

/// `role`'s first credentials, asked for on a thread and a runtime of its own, through an HTTP
/// client of its own (its connection ends with that runtime, not in the run's pool). None: no
/// thread could be started (the first caller asks itself).
fn ask_on_a_thread(base: SdkConfig, role: RoleArn) -> Option<oneshot::Receiver<provider::Result>> {
    let (send, receive) = oneshot::channel();
    std::thread::Builder::new()
        .name("assume-role".into())
        .spawn(move || {
            // No runtime: `send` is dropped, and the first caller asks the role itself.
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let base = base.to_builder().http_client(shared_https_client()).build();
            let answer = runtime.block_on(async {
                role_provider(&base, &role)
                    .await
                    .provide_credentials()
                    .await
            });
            let _ = send.send(answer); // the run may be over
        })
        .ok()
        .map(|_| receive)
}

/// A role's credentials: the first ask's answer goes to the first caller (the SDK's credential
/// cache); later asks (its refreshes before expiry) go to the role again.
#[derive(Debug)]
struct AskedAtOnce {
    role: AssumeRoleProvider,
    first: Mutex<Option<oneshot::Receiver<provider::Result>>>,
}

impl ProvideCredentials for AskedAtOnce {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self
            .first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        future::ProvideCredentials::new(async move {
            if let Some(first) = first
                && let Ok(answer) = first.await
            {
                return answer;
            }
            // Asked before, or the first ask's thread is gone: the role, asked now.
            self.role.provide_credentials().await
        })
    }
}
