//! Files in and out: downloading an incoming image/file/audio/video through
//! the media API (decrypting encrypted media), capped at
//! `max_media_bytes`, and uploading an outgoing attachment.
//!
//! Not for message text. Invariant: nothing larger than the cap is handed
//! to the core; an oversized file becomes a `TooLarge` note instead; an
//! uploaded file's message is sent like every other event (keyed, marked).

use handoff_bridge_api::{Attachment, BridgeError};
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{
    AudioInfo, AudioMessageEventContent, FileInfo, FileMessageEventContent,
    ImageMessageEventContent, MessageType, Relation, RoomMessageEventContent,
    TextMessageEventContent, VideoInfo, VideoMessageEventContent,
};
use matrix_sdk::ruma::events::room::{ImageInfo, MediaSource};
use matrix_sdk::ruma::{OwnedEventId, UInt};
use matrix_sdk::Room;

use crate::error::{from_sdk, rejected};
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
    TooLarge { size: u64 },
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

/// Downloads `media` unless its announced (or actual) size is over the cap.
pub async fn download(shared: &Shared, media: IncomingMedia) -> Result<Download, BridgeError> {
    let cap = u64::try_from(shared.cfg.max_media_bytes).unwrap_or(u64::MAX);
    if let Some(size) = media.size.filter(|s| *s > cap) {
        return Ok(Download::TooLarge { size });
    }
    let request = MediaRequestParameters {
        source: media.source,
        format: MediaFormat::File,
    };
    let data = shared
        .client
        .media()
        .get_media_content(&request, false)
        .await
        .map_err(|e| from_sdk(&format!("downloading {}", media.name), &e))?;
    let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
    if size > cap {
        return Ok(Download::TooLarge { size });
    }
    Ok(Download::File(Attachment {
        name: media.name,
        mime: media.mime,
        data,
    }))
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
