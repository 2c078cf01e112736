//! Files in and out: downloading an incoming image/file/audio/video through
//! the media API (decrypting encrypted media), capped at
//! `max_media_bytes`, and uploading an outgoing attachment.
//!
//! Not for message text. Invariant: nothing larger than the cap is handed
//! to the core; an oversized file becomes a `TooLarge` note instead.

use handoff_bridge_api::{Attachment, BridgeError};
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::room::reply::{EnforceThread, Reply};
use matrix_sdk::ruma::events::room::message::{
    AddMentions, MessageType, ReplyWithinThread, TextMessageEventContent,
};
use matrix_sdk::ruma::events::room::MediaSource;
use matrix_sdk::ruma::{OwnedEventId, OwnedTransactionId};
use matrix_sdk::Room;

use crate::error::{from_sdk, rejected};
use crate::Shared;

/// The media part of an incoming message.
pub struct IncomingMedia {
    pub name: String,
    pub mime: String,
    pub size: Option<u64>,
    pub source: MediaSource,
}

/// What downloading gave.
pub enum Download {
    File(Attachment),
    TooLarge { name: String, size: u64 },
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

/// Downloads `media` unless its announced (or actual) size is over the cap.
pub async fn download(shared: &Shared, media: IncomingMedia) -> Result<Download, BridgeError> {
    let cap = u64::try_from(shared.cfg.max_media_bytes).unwrap_or(u64::MAX);
    if let Some(size) = media.size.filter(|s| *s > cap) {
        return Ok(Download::TooLarge {
            name: media.name,
            size,
        });
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
        return Ok(Download::TooLarge {
            name: media.name,
            size,
        });
    }
    Ok(Download::File(Attachment {
        name: media.name,
        mime: media.mime,
        data,
    }))
}

/// Uploads `file` and posts it (m.image for image/*, else m.file), in the
/// thread `thread` if given, with `caption` (e.g. the relayed name).
pub async fn upload(
    room: &Room,
    file: &Attachment,
    thread: Option<OwnedEventId>,
    caption: Option<TextMessageEventContent>,
    txn: OwnedTransactionId,
) -> Result<OwnedEventId, BridgeError> {
    let mime: mime::Mime = file
        .mime
        .parse()
        .map_err(|e| rejected(format!("bad MIME type {:?}: {e}", file.mime)))?;
    let mut config = AttachmentConfig::new().txn_id(txn).caption(caption);
    if let Some(root) = thread {
        config = config.reply(Some(Reply {
            event_id: root,
            enforce_thread: EnforceThread::Threaded(ReplyWithinThread::No),
            add_mentions: AddMentions::No,
        }));
    }
    let response = room
        .send_attachment(file.name.clone(), &mime, file.data.clone(), config)
        .await
        .map_err(|e| from_sdk(&format!("uploading {}", file.name), &e))?;
    Ok(response.event_id)
}
