//! Files in and out: downloading an incoming image/file/audio/video through
//! the media API (decrypting encrypted media), capped at
//! `max_media_bytes`, and uploading an outgoing attachment.
//!
//! Not for message text. Invariant: nothing larger than the cap is handed
//! to the core; an oversized file becomes a `TooLarge` note instead; an
//! uploaded file's message is sent like every other event (keyed, marked).

use handoff_bridge_api::{Attachment, BridgeError};
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{
    AudioInfo, AudioMessageEventContent, FileInfo, FileMessageEventContent,
    ImageMessageEventContent, MessageType, Relation, RoomMessageEventContent,
    TextMessageEventContent, VideoInfo, VideoMessageEventContent,
};
use matrix_sdk::ruma::events::room::{ImageInfo, MediaSource};
use matrix_sdk::ruma::{OwnedEventId, UInt};
use matrix_sdk::Room;

use std::io::Read as _;
use std::time::Duration;

use matrix_sdk::ruma::MxcUri;
use matrix_sdk::{bytes, reqwest};
use matrix_sdk_crypto::AttachmentDecryptor;

use crate::error::{from_sdk, rejected, unavailable};
use crate::{outgoing, Shared};

/// The media part of an incoming message.
#[derive(Clone, Debug)]
pub struct IncomingMedia {
    pub name: String,
    pub mime: String,
    pub size: Option<u64>,
    pub source: MediaSource,
}

/// What downloading gave.
pub enum Download {
    File(Attachment),
    /// Over the cap: `size` bytes when `exact`, else at least that many.
    TooLarge {
        size: u64,
        exact: bool,
    },
}

/// The media of `msgtype`, if it is an image, file, audio or video.
pub fn incoming(msgtype: &MessageType) -> Option<IncomingMedia> {
    let (body, filename, source, mime, size) = match msgtype {
        MessageType::Image(c) => (
            &c.body,
            &c.filename,
            &c.source,
            c.info.as_ref().and_then(|i| i.mimetype.clone()),
            c.info.as_ref().and_then(|i| i.size),
        ),
        MessageType::File(c) => (
            &c.body,
            &c.filename,
            &c.source,
            c.info.as_ref().and_then(|i| i.mimetype.clone()),
            c.info.as_ref().and_then(|i| i.size),
        ),
        MessageType::Audio(c) => (
            &c.body,
            &c.filename,
            &c.source,
            c.info.as_ref().and_then(|i| i.mimetype.clone()),
            c.info.as_ref().and_then(|i| i.size),
        ),
        MessageType::Video(c) => (
            &c.body,
            &c.filename,
            &c.source,
            c.info.as_ref().and_then(|i| i.mimetype.clone()),
            c.info.as_ref().and_then(|i| i.size),
        ),
        _ => return None,
    };
    Some(IncomingMedia {
        name: filename.clone().unwrap_or_else(|| body.clone()),
        mime: mime.unwrap_or_else(|| "application/octet-stream".to_owned()),
        size: size.map(u64::from),
        source: source.clone(),
    })
}

/// The caption of a file message: its `body` when a separate `filename`
/// is given (Matrix 1.10), else none.
pub fn caption(msgtype: &MessageType) -> Option<String> {
    let (body, filename) = match msgtype {
        MessageType::Image(c) => (&c.body, &c.filename),
        MessageType::File(c) => (&c.body, &c.filename),
        MessageType::Audio(c) => (&c.body, &c.filename),
        MessageType::Video(c) => (&c.body, &c.filename),
        _ => return None,
    };
    filename
        .as_ref()
        .filter(|f| *f != body)
        .map(|_| body.clone())
}

/// Downloads `media` unless its announced (or actual) size is over the
/// cap: the event's `info.size` is checked first, then the response's
/// Content-Length, and the body is read only up to the cap (a server that
/// announces nothing, or lies, is cut off there). Encrypted media is
/// fetched the same way (the ciphertext is as long as the file) and
/// decrypted after.
pub async fn download(shared: &Shared, media: IncomingMedia) -> Result<Download, BridgeError> {
    let cap = u64::try_from(shared.cfg.max_media_bytes).unwrap_or(u64::MAX);
    if let Some(size) = media.size.filter(|s| *s > cap) {
        return Ok(Download::TooLarge { size, exact: true });
    }
    let what = format!("downloading {}", media.name);
    let uri = match &media.source {
        MediaSource::Plain(uri) => uri,
        MediaSource::Encrypted(file) => &file.url,
    };
    let data = match fetch_capped(shared, uri, cap, &what).await? {
        Capped::Bytes(data) => data,
        Capped::Over { size, exact } => return Ok(Download::TooLarge { size, exact }),
    };
    let data = match media.source {
        MediaSource::Plain(_) => data,
        MediaSource::Encrypted(file) => {
            let mut cursor = std::io::Cursor::new(data);
            let mut reader = AttachmentDecryptor::new(&mut cursor, (*file).into())
                .map_err(|e| rejected(format!("{what}: cannot decrypt: {e}")))?;
            let mut plain = Vec::new();
            reader
                .read_to_end(&mut plain)
                .map_err(|e| rejected(format!("{what}: cannot decrypt: {e}")))?;
            plain
        }
    };
    Ok(Download::File(Attachment {
        name: media.name,
        mime: media.mime,
        data,
    }))
}

/// What a capped fetch read.
#[derive(Debug, PartialEq)]
enum Capped {
    Bytes(Vec<u8>),
    /// Over the cap: `size` is the announced length when `exact`, else
    /// what was read before stopping.
    Over {
        size: u64,
        exact: bool,
    },
}

/// The HTTP client for media downloads (one per process: connection reuse).
fn http() -> &'static reqwest::Client {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default()
    })
}

/// GETs `uri` from the authenticated media API, reading at most `cap`
/// bytes of its body.
async fn fetch_capped(
    shared: &Shared,
    uri: &MxcUri,
    cap: u64,
    what: &str,
) -> Result<Capped, BridgeError> {
    let (server, media_id) = uri
        .parts()
        .map_err(|e| rejected(format!("{what}: bad media URI {uri}: {e}")))?;
    let mut url = shared.client.homeserver();
    url.path_segments_mut()
        .map_err(|()| rejected(format!("{what}: the homeserver URL cannot take a path")))?
        .pop_if_empty()
        .extend([
            "_matrix",
            "client",
            "v1",
            "media",
            "download",
            server.as_str(),
            media_id,
        ]);
    let mut request = http().get(url);
    if let Some(token) = shared.client.access_token() {
        request = request.bearer_auth(token);
    }
    let unavailable_err = |e: reqwest::Error| unavailable(format!("{what}: {e}"));
    let response = request.send().await.map_err(unavailable_err)?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(unavailable(format!("{what}: HTTP {status}")));
    }
    if !status.is_success() {
        return Err(rejected(format!("{what}: HTTP {status}")));
    }
    if let Some(size) = response.content_length().filter(|l| *l > cap) {
        return Ok(Capped::Over { size, exact: true });
    }
    let mut chunks = ChunkSource(response);
    read_capped(&mut chunks, cap).await.map_err(unavailable_err)
}

/// Something a body is read from, a chunk at a time.
trait Chunks {
    async fn next(&mut self) -> Result<Option<bytes::Bytes>, reqwest::Error>;
}

struct ChunkSource(reqwest::Response);

impl Chunks for ChunkSource {
    async fn next(&mut self) -> Result<Option<bytes::Bytes>, reqwest::Error> {
        self.0.chunk().await
    }
}

/// Reads chunks until the end or until more than `cap` bytes came; then it
/// stops pulling (the response is dropped, closing the connection).
async fn read_capped(body: &mut impl Chunks, cap: u64) -> Result<Capped, reqwest::Error> {
    let mut data = Vec::new();
    while let Some(chunk) = body.next().await? {
        data.extend_from_slice(&chunk);
        let read = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if read > cap {
            return Ok(Capped::Over {
                size: read,
                exact: false,
            });
        }
    }
    Ok(Capped::Bytes(data))
}

/// Uploads `file` (encrypted in an encrypted room) and posts it as an
/// image, audio, video or file message through [`outgoing::send`] (so it is
/// marked and keyed like every other event), in the thread `thread` if
/// given, with `caption` (e.g. the relayed name) as its body.
pub async fn upload(
    room: &Room,
    file: &Attachment,
    thread: Option<OwnedEventId>,
    caption: Option<TextMessageEventContent>,
    key: &str,
) -> Result<OwnedEventId, BridgeError> {
    let mime: mime::Mime = file
        .mime
        .parse()
        .map_err(|e| rejected(format!("bad MIME type {:?}: {e}", file.mime)))?;
    let what = format!("uploading {}", file.name);
    let encrypted = room
        .latest_encryption_state()
        .await
        .map_err(|e| from_sdk(&what, &e))?
        .is_encrypted();
    let source = if encrypted {
        let mut reader = std::io::Cursor::new(file.data.as_slice());
        let sealed = room
            .client()
            .upload_encrypted_file(&mut reader)
            .await
            .map_err(|e| from_sdk(&what, &e))?;
        MediaSource::Encrypted(Box::new(sealed))
    } else {
        let uploaded = room
            .client()
            .media()
            .upload(&mime, file.data.clone(), None)
            .await
            .map_err(|e| from_sdk(&what, &e))?;
        MediaSource::Plain(uploaded.content_uri)
    };
    let mut content = RoomMessageEventContent::new(media_message(&mime, file, source, caption));
    if let Some(root) = thread {
        content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root)));
    }
    outgoing::send(room, content, key, "upload").await
}

/// The message type for an uploaded file: with a caption, the caption is
/// the body and the file name goes in `filename` (MSC2530); without one,
/// the body is the file name.
fn media_message(
    mime: &mime::Mime,
    file: &Attachment,
    source: MediaSource,
    caption: Option<TextMessageEventContent>,
) -> MessageType {
    let (body, formatted, filename) = match caption {
        Some(c) => (c.body, c.formatted, Some(file.name.clone())),
        None => (file.name.clone(), None, None),
    };
    let size = UInt::try_from(file.data.len()).ok();
    let mimetype = Some(mime.essence_str().to_owned());
    match mime.type_() {
        mime::IMAGE => {
            let mut info = ImageInfo::new();
            (info.mimetype, info.size) = (mimetype, size);
            let mut c = ImageMessageEventContent::new(body, source);
            (c.formatted, c.filename, c.info) = (formatted, filename, Some(Box::new(info)));
            MessageType::Image(c)
        }
        mime::AUDIO => {
            let mut info = AudioInfo::new();
            (info.mimetype, info.size) = (mimetype, size);
            let mut c = AudioMessageEventContent::new(body, source);
            (c.formatted, c.filename, c.info) = (formatted, filename, Some(Box::new(info)));
            MessageType::Audio(c)
        }
        mime::VIDEO => {
            let mut info = VideoInfo::new();
            (info.mimetype, info.size) = (mimetype, size);
            let mut c = VideoMessageEventContent::new(body, source);
            (c.formatted, c.filename, c.info) = (formatted, filename, Some(Box::new(info)));
            MessageType::Video(c)
        }
        _ => {
            let mut info = FileInfo::new();
            (info.mimetype, info.size) = (mimetype, size);
            let mut c = FileMessageEventContent::new(body, source);
            (c.formatted, c.filename, c.info) = (formatted, filename, Some(Box::new(info)));
            MessageType::File(c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of `chunks` chunks of `size` bytes that counts what was pulled.
    struct Fake {
        chunks: usize,
        size: usize,
        pulled: usize,
    }

    impl Chunks for Fake {
        async fn next(&mut self) -> Result<Option<bytes::Bytes>, reqwest::Error> {
            if self.pulled == self.chunks {
                return Ok(None);
            }
            self.pulled += 1;
            Ok(Some(bytes::Bytes::from(vec![7u8; self.size])))
        }
    }

    #[tokio::test]
    async fn reading_stops_just_past_the_cap() {
        // 1,000 chunks of 1 KiB announced by nobody; the cap is 4 KiB.
        let mut body = Fake {
            chunks: 1000,
            size: 1024,
            pulled: 0,
        };
        let got = read_capped(&mut body, 4096).await.expect("read");
        assert_eq!(
            got,
            Capped::Over {
                size: 5 * 1024,
                exact: false
            }
        );
        assert_eq!(body.pulled, 5, "read past the cap");
    }

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_whole() {
        let mut body = Fake {
            chunks: 4,
            size: 1024,
            pulled: 0,
        };
        assert_eq!(
            read_capped(&mut body, 4096).await.expect("read"),
            Capped::Bytes(vec![7u8; 4096])
        );
    }
}
