//! Serving HTTP connections so that slow clients cost little and cannot hold the server: a
//! deadline for each request header (hyper's, which also closes a kept-alive connection that
//! sends no next request), a deadline for a site request's body, a limit on the time a connection
//! may stand still, and a cap on connections served at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The limits of [`serve`], from the settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(config: &app::config::Config) -> Limits {
        Limits {
            header_read: Duration::from_secs(config.header_read_timeout_seconds),
            idle: Duration::from_secs(config.idle_timeout_seconds),
            max_connections: config.max_connections,
        }
    }
}

/// Accepts and serves connections until `shutdown` resolves; then stops accepting, lets requests
/// in flight finish and closes idle connections, and returns once every connection has ended.
/// Dropping the returned future (at the end of the grace period) drops every connection.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the cap, the next connection waits in the kernel's listen queue, not in memory here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot { Ok(slot) => slot, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was taken: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        // Pages stream in several writes: without TCP_NODELAY each one waits ~40 ms for an ACK.
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone().map_request(move |mut req: Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        }));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            .serve_connection(TokioIo::new(StandingStill::new(stream, limits.idle)), service);
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            let _slot = slot;
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
}

/// A TCP stream that fails its next read or write once nothing has moved on it for `limit`,
/// which makes hyper close the connection.
struct StandingStill {
    stream: TcpStream,
    limit: Duration,
    last_moved: Instant,
    timer: Pin<Box<Sleep>>,
}

impl StandingStill {
    fn new(stream: TcpStream, limit: Duration) -> StandingStill {
        let now = Instant::now();
        StandingStill { stream, limit, last_moved: now, timer: Box::pin(tokio::time::sleep_until(now + limit)) }
    }

    /// On a pending read or write: an error once the stream has stood still for `limit`. The
    /// timer is moved only when it fires, so the busy path pays no more than reading the clock.
    fn check_still(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_moved + self.limit;
            if deadline <= Instant::now() {
                return Poll::Ready(std::io::Error::new(std::io::ErrorKind::TimedOut, "the connection stood still too long"));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl StandingStill {
    /// A write that moved bytes moves the clock on; one that waits may have waited too long.
    fn after_write(&mut self, cx: &mut Context<'_>, written: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.last_moved = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check_still(cx).map(Err),
        }
    }
}

impl AsyncRead for StandingStill {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.last_moved = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_still(cx).map(Err),
        }
    }
}

impl AsyncWrite for StandingStill {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, data);
        this.after_write(cx, written)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Middleware for site routes: the request's whole body must arrive within `limit`, however
/// slowly it drips. A body that does not fails to read, which the pages and server functions
/// answer as bad input.
pub async fn body_deadline(axum::extract::State(limit): axum::extract::State<Duration>, req: Request, next: Next) -> Response {
    // Most site requests (pages) have no body: nothing to wait for, no timer to set.
    if http_body::Body::is_end_stream(req.body()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::Body::new(DeadlineBody { inner: body, deadline: Box::pin(tokio::time::sleep(limit)) });
    next.run(Request::from_parts(parts, body)).await
}

struct DeadlineBody {
    inner: axum::body::Body,
    deadline: Pin<Box<Sleep>>,
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err("the request body did not arrive in time".into()))),
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
