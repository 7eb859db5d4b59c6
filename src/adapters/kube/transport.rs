//! How a Kubernetes client talks to its server: `--timeout` on every call, retries with
//! backoff for idempotent requests only, and transport failures that name the server.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use tower::BoxError;
use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

use crate::cli::settings::show_duration;

/// Attempts of one idempotent request, the first included (as the AWS SDK's standard mode).
const MAX_ATTEMPTS: u32 = 3;
/// Backoff before the first retry; it doubles (with jitter) up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A server's `Retry-After` is followed up to this long (the call's timeout still bounds it).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The server a client talks to, as messages name it.
#[derive(Debug)]
pub(crate) struct Server {
    /// The kubeconfig context the client came from.
    pub(crate) context: String,
    pub(crate) url: String,
    /// `--timeout`: the longest one call may take, its retries included.
    pub(crate) call: Duration,
}

/// The server did not answer (refused, reset, closed, TLS, no answer in time): kept inside
/// kube's error so that the adapters can say which server it was.
#[derive(Debug)]
pub(crate) struct Unanswered {
    pub(crate) server: Arc<Server>,
    pub(crate) reason: String,
    source: Option<BoxError>,
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Unanswered {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The Unanswered inside a kube error, if a transport failure is what it is.
pub(crate) fn unanswered(error: &kube::Error) -> Option<&Unanswered> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<Unanswered>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

/// How a request failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with this status.
    Status(u16),
    /// The connection was refused, reset, or closed before the answer was complete.
    Dropped,
    /// No answer in time: the call's time is spent, a retry cannot finish either.
    TimedOut,
    /// Anything else (TLS, DNS, the client's own errors): retrying does not help.
    Other,
}

/// Whether a request may be sent again without doing twice what it did once: reads, a
/// server-side apply (the same object whatever it finds), and the access and token reviews
/// (they store nothing). A create, update, merge patch or delete is never sent twice.
pub(crate) fn idempotent(method: &Method, content_type: Option<&str>, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => true,
        Method::PATCH => content_type == Some("application/apply-patch+yaml"),
        Method::POST => {
            (path.starts_with("/apis/authorization.k8s.io/")
                || path.starts_with("/apis/authentication.k8s.io/"))
                && path.ends_with("reviews")
        }
        _ => false,
    }
}

/// Whether a failure is worth another attempt: throttling, a server error that may pass, a
/// dropped connection.
pub(crate) fn transient(failure: Failure) -> bool {
    match failure {
        Failure::Status(status) => matches!(status, 429 | 500 | 502 | 503 | 504),
        Failure::Dropped => true,
        Failure::TimedOut | Failure::Other => false,
    }
}

/// What a transport error was, from the io error or hyper error somewhere in its chain (an io
/// error may wrap another, as the TLS connector's do: its `source` skips the wrapped one).
fn classify(error: &(dyn std::error::Error + 'static)) -> Failure {
    use std::io::ErrorKind;
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.is::<tokio::time::error::Elapsed>() {
            return Failure::TimedOut;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => return Failure::Dropped,
                ErrorKind::TimedOut => return Failure::TimedOut,
                _ => {
                    if let Some(inner) = io.get_ref() {
                        let failure = classify(inner);
                        if failure != Failure::Other {
                            return failure;
                        }
                    }
                }
            }
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled())
        {
            return Failure::Dropped;
        }
        cause = current.source();
    }
    Failure::Other
}

/// A few words on a transport failure for the message (the chain stays the source, for -v).
fn reason(error: &(dyn std::error::Error + 'static), call: Duration) -> String {
    match classify(error) {
        Failure::TimedOut => format!("no answer within {} (--timeout)", show_duration(call)),
        _ => {
            let mut innermost = error;
            while let Some(next) = innermost.source() {
                innermost = next;
            }
            let text = innermost.to_string();
            if text.is_empty() {
                "the connection failed".to_owned()
            } else {
                text
            }
        }
    }
}

/// A transport error as an [`Unanswered`]; the client's own errors (kube's, e.g. its
/// credentials plugin failing) pass unchanged.
fn name_server(server: &Arc<Server>, error: BoxError) -> BoxError {
    if error.is::<kube::Error>() || error.is::<Unanswered>() {
        return error;
    }
    Box::new(Unanswered {
        server: Arc::clone(server),
        reason: reason(&*error, server.call),
        source: Some(error),
    })
}

/// Retries an idempotent request after a transient failure, with exponential backoff and
/// jitter, honouring `Retry-After`; at most [`MAX_ATTEMPTS`] attempts.
#[derive(Clone)]
pub(crate) struct RetryIdempotent {
    backoff: ExponentialBackoff,
    retries_left: u32,
}

impl RetryIdempotent {
    pub(crate) fn new() -> Self {
        // Invariant: constant parameters that tower accepts (min <= max, max > 0, jitter 1).
        let backoff = ExponentialBackoffMaker::new(MIN_BACKOFF, MAX_BACKOFF, 1.0, HasherRng::new())
            .expect("valid constant backoff parameters")
            .make_backoff();
        RetryIdempotent {
            backoff,
            retries_left: MAX_ATTEMPTS - 1,
        }
    }
}

impl<B> tower::retry::Policy<Request<Body>, Response<B>, BoxError> for RetryIdempotent {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        if self.retries_left == 0 {
            return None;
        }
        let failure = match result {
            Ok(response) if response.status().is_success() => return None,
            Ok(response) => Failure::Status(response.status().as_u16()),
            Err(error) => classify(&**error),
        };
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !transient(failure) || !idempotent(request.method(), content_type, request.uri().path())
        {
            return None;
        }
        self.retries_left -= 1;
        let backoff = self.backoff.next_backoff();
        let retry_after = match result {
            Ok(response) => response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER)),
            Err(_) => None,
        };
        tracing::debug!(
            "retrying {} {} after {failure:?}",
            request.method(),
            request.uri().path()
        );
        Some(match retry_after {
            Some(wait) => tokio::time::sleep(wait),
            None => backoff,
        })
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        let body = request.body().try_clone()?;
        let mut clone = Request::new(body);
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.version_mut() = request.version();
        *clone.headers_mut() = request.headers().clone();
        *clone.extensions_mut() = request.extensions().clone();
        Some(clone)
    }
}

/// The outermost layer: the whole call (retries included) within `--timeout`, and every
/// transport failure, in the call or while reading the answer, named as its server's.
pub(crate) struct NameServerLayer(pub(crate) Arc<Server>);

impl<S> tower::Layer<S> for NameServerLayer {
    type Service = NameServer<S>;

    fn layer(&self, inner: S) -> NameServer<S> {
        NameServer {
            inner,
            server: Arc::clone(&self.0),
        }
    }
}

pub(crate) struct NameServer<S> {
    inner: S,
    server: Arc<Server>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<Request<Body>> for NameServer<S>
where
    S: tower::Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<NamedBody<B>>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| name_server(&self.server, e.into()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let server = Arc::clone(&self.server);
        let call = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(server.call, call).await {
                Ok(Ok(response)) => Ok(response.map(|inner| NamedBody {
                    inner,
                    server: Arc::clone(&server),
                })),
                Ok(Err(error)) => Err(name_server(&server, error.into())),
                Err(elapsed) => Err(name_server(&server, Box::new(elapsed))),
            }
        })
    }
}

/// An answer's body whose read errors name the server.
pub(crate) struct NamedBody<B> {
    inner: B,
    server: Arc<Server>,
}

impl<B> http_body::Body for NamedBody<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(error))) => {
                Poll::Ready(Some(Err(name_server(&this.server, error.into()))))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::retry::Policy as _;

    const APPLY: Option<&str> = Some("application/apply-patch+yaml");
    const MERGE: Option<&str> = Some("application/merge-patch+json");
    const JSON: Option<&str> = Some("application/json");

    #[test]
    fn only_requests_that_do_the_same_when_sent_twice_are_retried() {
        let secret = "/api/v1/namespaces/argocd/secrets/eks-prod";
        assert!(idempotent(&Method::GET, None, secret));
        assert!(idempotent(&Method::HEAD, None, secret));
        assert!(idempotent(&Method::PATCH, APPLY, secret));
        assert!(!idempotent(&Method::PATCH, MERGE, secret));
        assert!(!idempotent(&Method::PATCH, None, secret));
        assert!(!idempotent(&Method::PUT, JSON, secret));
        assert!(!idempotent(&Method::DELETE, None, secret));
        assert!(!idempotent(
            &Method::POST,
            JSON,
            "/api/v1/namespaces/argocd/secrets"
        ));
        assert!(idempotent(
            &Method::POST,
            JSON,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        ));
        assert!(idempotent(
            &Method::POST,
            JSON,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        ));
        assert!(!idempotent(
            &Method::POST,
            JSON,
            "/apis/authorization.k8s.io/v1/namespaces/x/localsubjectaccessreviews/extra"
        ));
    }

    #[test]
    fn throttling_server_errors_and_dropped_connections_are_transient() {
        for status in [429, 500, 502, 503, 504] {
            assert!(transient(Failure::Status(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!transient(Failure::Status(status)), "{status}");
        }
        assert!(transient(Failure::Dropped));
        assert!(!transient(Failure::TimedOut));
        assert!(!transient(Failure::Other));
    }

    #[test]
    fn transport_errors_are_classified_through_their_chain() {
        let reset: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&*reset), Failure::Dropped);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let wrapped = Unanswered {
            server: Arc::new(server(Duration::from_secs(1))),
            reason: String::new(),
            source: Some(Box::new(refused)),
        };
        assert_eq!(classify(&wrapped), Failure::Dropped);
        let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert_eq!(classify(&timed_out), Failure::TimedOut);
        let tls = std::io::Error::new(std::io::ErrorKind::InvalidData, "invalid peer certificate");
        assert_eq!(classify(&tls), Failure::Other);
        let wrapped_reset =
            std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&wrapped_reset), Failure::Dropped);
        assert_eq!(
            reason(&timed_out, Duration::from_millis(1500)),
            "no answer within 1.5s (--timeout)"
        );
    }

    fn server(call: Duration) -> Server {
        Server {
            context: "hub".into(),
            url: "https://127.0.0.1:6443".into(),
            call,
        }
    }

    fn request(method: Method, content_type: Option<&str>) -> Request<Body> {
        let mut request = Request::new(Body::from(b"{}".to_vec()));
        *request.method_mut() = method;
        *request.uri_mut() = "/api/v1/namespaces/argocd/secrets/eks-prod"
            .parse()
            .unwrap();
        if let Some(content_type) = content_type {
            request.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_str(content_type).unwrap(),
            );
        }
        request
    }

    fn answer(status: u16) -> Result<Response<()>, BoxError> {
        Ok(Response::builder().status(status).body(()).unwrap())
    }

    #[tokio::test]
    async fn the_policy_retries_twice_then_gives_up_and_never_retries_a_create() {
        let mut policy = RetryIdempotent::new();
        let mut apply = request(Method::PATCH, APPLY);
        let cloned =
            tower::retry::Policy::<_, Response<()>, BoxError>::clone_request(&mut policy, &apply);
        assert!(cloned.is_some(), "a byte body is kept");
        assert!(policy.retry(&mut apply, &mut answer(503)).is_some());
        assert!(policy.retry(&mut apply, &mut answer(429)).is_some());
        assert!(
            policy.retry(&mut apply, &mut answer(503)).is_none(),
            "3 attempts in all"
        );

        let mut policy = RetryIdempotent::new();
        let mut get = request(Method::GET, None);
        assert!(policy.retry(&mut get, &mut answer(200)).is_none());
        assert!(policy.retry(&mut get, &mut answer(404)).is_none());
        let mut reset: Result<Response<()>, BoxError> = Err(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(policy.retry(&mut get, &mut reset).is_some());

        let mut policy = RetryIdempotent::new();
        let mut create = request(Method::POST, Some("application/json"));
        assert!(policy.retry(&mut create, &mut answer(503)).is_none());
        let mut merge = request(Method::PATCH, MERGE);
        assert!(policy.retry(&mut merge, &mut answer(503)).is_none());
    }

    #[tokio::test]
    async fn retry_after_is_followed_up_to_a_bound() {
        let mut policy = RetryIdempotent::new();
        let mut get = request(Method::GET, None);
        let mut throttled: Result<Response<()>, BoxError> = Ok(Response::builder()
            .status(429)
            .header("Retry-After", "3600")
            .body(())
            .unwrap());
        let start = tokio::time::Instant::now();
        let wait = policy.retry(&mut get, &mut throttled).unwrap();
        let waits = wait.deadline() - start;
        assert!(
            waits >= MAX_RETRY_AFTER && waits < MAX_RETRY_AFTER + Duration::from_secs(1),
            "{waits:?}"
        );
    }
}
