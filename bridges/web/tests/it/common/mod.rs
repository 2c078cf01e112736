//! Shared by the widget's integration tests: a running bridge on a
//! `MemoryState`, and a WebSocket client that speaks the widget protocol.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use handoff_bridge_api::{Bridge, Inbound, InboundReceiver, MemoryState};
use handoff_web::identity;
use handoff_web::protocol::{ClaimedUser, ClientFrame, Entry, ServerFrame};
use handoff_web::{WebBridge, WebSettings};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one expectation may take.
pub const WAIT: Duration = Duration::from_secs(20);
/// The site that embeds the widget in these tests.
pub const SITE: &str = "http://shop.test";
/// The identity secret these tests' sites sign with.
pub const SECRET: &str = "test-identity-secret";

/// Settings on a free loopback port, `SITE` allowed, identities on.
pub fn settings() -> WebSettings {
    let mut s = WebSettings::new("127.0.0.1:0");
    s.allowed_origins = vec![SITE.into()];
    s.identity_secret = Some(handoff_bridge_api::settings::Secret::new(SECRET));
    s
}

/// A bridge serving and its core end.
pub struct Running {
    pub bridge: Arc<WebBridge>,
    pub rx: InboundReceiver,
    pub task: JoinHandle<()>,
    pub addr: std::net::SocketAddr,
}

impl Running {
    pub async fn start(settings: WebSettings, state: Arc<MemoryState>) -> Running {
        let bridge = Arc::new(
            WebBridge::connect(settings, state)
                .await
                .expect("bridge binds"),
        );
        let addr = bridge.local_addr();
        let (tx, rx) = handoff_bridge_api::inbound_channel(256);
        let b = bridge.clone();
        let task = tokio::spawn(async move {
            let _ = b.run(tx).await;
        });
        // Serving once `run` has its listener: wait for the first answer.
        let deadline = tokio::time::Instant::now() + WAIT;
        while TcpStream::connect(addr).await.is_err() || !bridge.is_connected() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bridge never served"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Running {
            bridge,
            rx,
            task,
            addr,
        }
    }

    pub async fn stop(self) {
        self.bridge.shutdown();
        let _ = self.task.await;
    }

    /// The next inbound event, acknowledged.
    pub async fn next(&mut self) -> Inbound {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("an inbound event in time")
            .expect("the channel is open")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A signed identity for `id`.
pub fn user(id: &str, name: &str) -> ClaimedUser {
    ClaimedUser {
        id: id.into(),
        name: Some(name.into()),
        hash: identity::sign(SECRET, id),
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One widget connection.
pub struct Client {
    ws: Ws,
}

/// What a `hello` got back.
#[derive(Debug)]
pub struct Hello {
    pub token: String,
    pub session: String,
    pub fresh: bool,
    pub user: Option<String>,
    pub replay: Vec<Entry>,
    /// The last seq the server handed out in this session.
    pub last_seq: u64,
}

impl Client {
    /// Opens the socket with `origin` (the handshake's error if refused).
    pub async fn open(
        addr: std::net::SocketAddr,
        origin: Option<&str>,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("ws://{addr}/ws").into_client_request()?;
        if let Some(o) = origin {
            req.headers_mut()
                .insert("Origin", HeaderValue::from_str(o).expect("header"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Client { ws })
    }

    /// Opens from `SITE` and says hello; panics on anything unexpected.
    pub async fn join(
        addr: std::net::SocketAddr,
        token: Option<&str>,
        last_seen: Option<u64>,
        user: Option<ClaimedUser>,
    ) -> (Client, Hello) {
        let mut c = Client::open(addr, Some(SITE))
            .await
            .expect("the socket opens");
        c.send(&ClientFrame::Hello {
            token: token.map(str::to_string),
            last_seen,
            user,
        })
        .await;
        let hello = c.welcome().await;
        (c, hello)
    }

    /// Reads `welcome`, the replay and `synced`.
    pub async fn welcome(&mut self) -> Hello {
        let (token, session, fresh, user) = match self.next().await {
            ServerFrame::Welcome {
                token,
                session,
                fresh,
                user,
                ..
            } => (token, session, fresh, user),
            other => panic!("expected welcome, got {other:?}"),
        };
        let mut replay = Vec::new();
        loop {
            match self.next().await {
                ServerFrame::Entry(e) => replay.push(e),
                ServerFrame::Synced { last_seq } => {
                    return Hello {
                        token,
                        session,
                        fresh,
                        user,
                        replay,
                        last_seq,
                    }
                }
                other => panic!("expected the replay, got {other:?}"),
            }
        }
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).expect("json");
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next frame; panics on close or silence.
    pub async fn next(&mut self) -> ServerFrame {
        self.try_next().await.expect("a frame, not the end")
    }

    /// The next frame, or None once the server closed the socket.
    pub async fn try_next(&mut self) -> Option<ServerFrame> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).expect("a server frame"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Frames until one matches `pred` (that one is returned).
    pub async fn until(&mut self, pred: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        loop {
            let f = self.next().await;
            if pred(&f) {
                return f;
            }
        }
    }

    /// Sends a message and waits for its `ack`.
    pub async fn say(&mut self, id: &str, text: &str) {
        self.send(&ClientFrame::Message {
            id: id.into(),
            text: text.into(),
        })
        .await;
        let f = self
            .until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
            .await;
        assert_eq!(f, ServerFrame::Ack { id: id.into() }, "message {id} taken");
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
