//! The HTTP/1.1 connection loop of `warden serve`: hyper with limits `axum::serve` does not expose (how long
//! a client may take to send its headers, how many headers and how many bytes of them), and a graceful
//! shutdown that lets requests in flight finish.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

/// Limits on what one connection may send before its request reaches the router.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// A client that has not sent its whole request head by then is disconnected (slow-client attacks).
    pub(crate) header_read_timeout: Duration,
    /// Most header fields in one request (more: 431).
    pub(crate) max_headers: usize,
    /// Most bytes of request head (request line and headers) (more: 431).
    pub(crate) max_head_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits { header_read_timeout: Duration::from_secs(10), max_headers: 64, max_head_bytes: 64 * 1024 }
    }
}

/// Longest wait for requests in flight at shutdown.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Serves `app` on every connection `listener` accepts until `shutdown` completes, then stops accepting and
/// waits for the connections' requests in flight to finish.
pub(crate) async fn serve<L>(
    mut listener: L,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    L: axum::serve::Listener,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers)
        .max_header_size(limits.max_head_bytes);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            (io, _peer) = listener.accept() => {
                let connection = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(app.clone()));
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN_DEADLINE:?}; stopping anyway");
    }
}
