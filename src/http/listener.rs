//! The listener's resource limits: at most [`MAX_CONNECTIONS`] open
//! connections (the next client waits in the kernel's accept backlog), and
//! each connection lives at most [`CONNECTION_LIFETIME`], so idle or
//! trickling clients cannot hold the slots. Per-request time and
//! concurrency limits are tower layers in [`super::routes`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Open connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A connection is closed this long after it was accepted (Prometheus and
/// the CLI reconnect; a scrape takes milliseconds).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// A [`TcpListener`] that holds a permit per open connection.
pub struct Limited {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    lifetime: Duration,
}

impl Limited {
    pub fn new(inner: TcpListener, max: usize, lifetime: Duration) -> Self {
        Limited {
            inner,
            slots: Arc::new(Semaphore::new(max)),
            lifetime,
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so this cannot fail.
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    let conn = Conn {
                        io,
                        _permit: permit,
                        deadline: Box::pin(tokio::time::sleep(self.lifetime)),
                    };
                    return (conn, addr);
                }
                Err(e) => {
                    // EMFILE and friends: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One accepted connection; its slot is freed when it is dropped.
pub struct Conn {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Conn {
    /// Answers go out at once (small responses, no Nagle delay).
    pub fn no_delay(&mut self) {
        if let Err(e) = self.io.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection lifetime exceeded")
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;
    use std::future::Future;

    /// With one slot, a second client is not accepted until the first
    /// connection is closed.
    #[tokio::test]
    async fn a_full_listener_waits_for_a_free_slot() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let mut l = Limited::new(tcp, 1, Duration::from_secs(60));
        let _c1 = TcpStream::connect(addr).await.expect("connect 1");
        let (first, _) = l.accept().await;
        let _c2 = TcpStream::connect(addr).await.expect("connect 2");
        let mut second = Box::pin(l.accept());
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(second.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "a second connection was accepted");
        drop(first);
        let (_conn, _) = second.await;
    }

    /// A connection past its lifetime reads an error instead of waiting.
    #[tokio::test]
    async fn an_old_connection_is_cut() {
        use tokio::io::AsyncReadExt;
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let mut l = Limited::new(tcp, 4, Duration::from_millis(50));
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (mut conn, _) = l.accept().await;
        let mut buf = [0u8; 8];
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
