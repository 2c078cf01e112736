//! Slack's JSON shapes for stored data: messages (as the Web API and as
//! events carry them), channels, users, files and bot profiles.
//!
//! Not for deciding what changes (`ops`) or which events go out. The
//! invariant: output parses with slack-morphism's models and matches the
//! field names in Slack's documentation.

use super::{Channel, Message, StoredFile, User, UserGroup, Workspace};
use serde_json::{json, Map, Value};

/// A message as `conversations.history`/`replies`, `pins.list` and
/// `chat.postMessage` return it.
pub fn message(ws: &Workspace, ch: &Channel, m: &Message) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!("message"));
    if let Some(subtype) = &m.subtype {
        o.insert("subtype".into(), json!(subtype));
    }
    o.insert("user".into(), json!(m.user));
    o.insert("text".into(), json!(m.text));
    o.insert("ts".into(), json!(m.ts.to_string()));
    o.insert("team".into(), json!(ws.team_id));
    if let Some(id) = &m.client_msg_id {
        o.insert("client_msg_id".into(), json!(id));
    }
    if let Some(bot_id) = &m.bot_id {
        o.insert("bot_id".into(), json!(bot_id));
        if *bot_id == ws.bot_id {
            o.insert("app_id".into(), json!(ws.app_id));
            o.insert("bot_profile".into(), bot_profile(ws));
        }
    }
    if let Some(username) = &m.username {
        o.insert("username".into(), json!(username));
    }
    if let Some(icons) = &m.icons {
        o.insert("icons".into(), icons.clone());
    }
    if let Some(blocks) = &m.blocks {
        o.insert("blocks".into(), blocks.clone());
    }
    if let Some(attachments) = &m.attachments {
        o.insert("attachments".into(), attachments.clone());
    }
    if let Some((user, ts)) = &m.edited {
        o.insert("edited".into(), json!({"user": user, "ts": ts.to_string()}));
    }
    if !m.files.is_empty() {
        let files: Vec<Value> = m
            .files
            .iter()
            .filter_map(|id| ws.files.get(id))
            .map(|f| file(ws, f))
            .collect();
        o.insert("files".into(), Value::Array(files));
        o.insert(
            "upload".into(),
            json!(m.subtype.as_deref() == Some("file_share")),
        );
    }
    if !m.reactions.is_empty() {
        let reactions: Vec<Value> = m
            .reactions
            .iter()
            .map(|r| json!({"name": r.name, "users": r.users, "count": r.users.len()}))
            .collect();
        o.insert("reactions".into(), Value::Array(reactions));
    }
    match m.thread_ts {
        Some(root) => {
            o.insert("thread_ts".into(), json!(root.to_string()));
            if let Some(parent) = ch.messages.get(&root) {
                o.insert("parent_user_id".into(), json!(parent.user));
            }
        }
        None => insert_parent_fields(ch, m, &mut o),
    }
    if ch.pins.iter().any(|p| p.ts == m.ts) {
        o.insert("pinned_to".into(), json!([ch.id]));
    }
    Value::Object(o)
}

fn insert_parent_fields(ch: &Channel, m: &Message, o: &mut Map<String, Value>) {
    let replies: Vec<&Message> = ch.replies(m.ts).collect();
    let Some(last) = replies.last() else {
        return;
    };
    let mut reply_users: Vec<String> = Vec::new();
    for r in &replies {
        if !reply_users.contains(&r.user) {
            reply_users.push(r.user.clone());
        }
    }
    o.insert("thread_ts".into(), json!(m.ts.to_string()));
    o.insert("reply_count".into(), json!(replies.len()));
    o.insert("reply_users_count".into(), json!(reply_users.len()));
    o.insert("latest_reply".into(), json!(last.ts.to_string()));
    o.insert("reply_users".into(), json!(reply_users));
    o.insert("is_locked".into(), json!(false));
    o.insert("subscribed".into(), json!(false));
}

/// A message as a `message` event carries it: the stored shape without
/// thread summary fields, plus `channel`, `event_ts` and `channel_type`.
pub fn message_event(ws: &Workspace, ch: &Channel, m: &Message) -> Value {
    let mut v = message(ws, ch, m);
    if let Value::Object(o) = &mut v {
        for key in [
            "reply_count",
            "reply_users_count",
            "latest_reply",
            "reply_users",
            "is_locked",
            "subscribed",
            "pinned_to",
        ] {
            o.remove(key);
        }
        if m.thread_ts.is_none() {
            o.remove("thread_ts");
        }
        o.insert("channel".into(), json!(ch.id));
        o.insert("event_ts".into(), json!(m.ts.to_string()));
        o.insert("channel_type".into(), json!(ch.channel_type()));
    }
    v
}

/// The nested `message`/`previous_message` of `message_changed` and
/// `message_deleted` events (no `channel` or `event_ts`).
pub fn nested_message(ws: &Workspace, ch: &Channel, m: &Message) -> Value {
    let mut v = message_event(ws, ch, m);
    if let Value::Object(o) = &mut v {
        o.remove("channel");
        o.remove("event_ts");
        o.remove("channel_type");
    }
    v
}

pub fn bot_profile(ws: &Workspace) -> Value {
    json!({
        "id": ws.bot_id,
        "app_id": ws.app_id,
        "user_id": ws.bot_user_id,
        "name": ws.bot_name,
        "icons": {"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
        "deleted": false,
        "updated": 1_700_000_000u64,
        "team_id": ws.team_id,
    })
}

pub fn channel(ws: &Workspace, ch: &Channel, for_user: &str) -> Value {
    json!({
        "id": ch.id,
        "name": ch.name,
        "name_normalized": ch.name,
        "is_channel": !ch.is_private,
        "is_group": ch.is_private,
        "is_im": false,
        "is_mpim": false,
        "is_private": ch.is_private,
        "is_archived": false,
        "is_general": false,
        "is_shared": false,
        "is_org_shared": false,
        "is_ext_shared": false,
        "is_member": ch.members.contains(for_user),
        "created": ch.created,
        "creator": ch.creator,
        "context_team_id": ws.team_id,
        "updated": ch.created * 1000,
        "unlinked": 0,
        "num_members": ch.members.len(),
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
    })
}

pub fn user(ws: &Workspace, u: &User) -> Value {
    let mut profile = json!({
        "real_name": u.real_name,
        "real_name_normalized": u.real_name,
        "display_name": u.name,
        "display_name_normalized": u.name,
        "team": ws.team_id,
        "avatar_hash": "g0000000000",
        "image_48": "https://secure.gravatar.com/avatar/0.jpg",
    });
    if let (Some(bot_id), Value::Object(p)) = (&u.bot_id, &mut profile) {
        p.insert("bot_id".into(), json!(bot_id));
        p.insert("api_app_id".into(), json!(ws.app_id));
    }
    let team_id = u.home_team.as_deref().unwrap_or(&ws.team_id);
    let mut rendered = json!({
        "id": u.id,
        "team_id": team_id,
        "name": u.name,
        "deleted": false,
        "real_name": u.real_name,
        "tz": "Europe/Amsterdam",
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "profile": profile,
        "is_admin": false,
        "is_owner": false,
        "is_bot": u.is_bot,
        "is_app_user": false,
        "is_restricted": u.is_restricted,
        "is_ultra_restricted": u.is_ultra_restricted,
        "updated": 1_700_000_000u64,
    });
    // Slack Connect users of another organisation carry `is_stranger`.
    if let (Some(_), Value::Object(o)) = (&u.home_team, &mut rendered) {
        o.insert("is_stranger".into(), json!(true));
    }
    rendered
}

/// A user group as `usergroups.list` shows it.
pub fn usergroup(ws: &Workspace, g: &UserGroup, include_users: bool) -> Value {
    let mut v = json!({
        "id": g.id,
        "team_id": ws.team_id,
        "is_usergroup": true,
        "name": g.name,
        "handle": g.handle,
        "user_count": g.users.len(),
        "date_delete": 0,
    });
    if let (true, Value::Object(o)) = (include_users, &mut v) {
        o.insert("users".into(), json!(g.users));
    }
    v
}

/// Private URL of a file's bytes; fetching it needs the bot token.
pub fn file_url(ws: &Workspace, f: &StoredFile, download: bool) -> String {
    let mid = if download { "download/" } else { "" };
    format!(
        "{}/files-pri/{}-{}/{}{}",
        ws.base_url,
        ws.team_id,
        f.id,
        mid,
        urlencode_path(&f.name)
    )
}

pub fn file(ws: &Workspace, f: &StoredFile) -> Value {
    let ext = f.name.rsplit_once('.').map(|(_, e)| e).unwrap_or("binary");
    json!({
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.name,
        "title": f.title,
        "mimetype": f.mimetype,
        "filetype": ext,
        "pretty_type": ext.to_uppercase(),
        "user": f.user,
        "user_team": ws.team_id,
        "editable": false,
        "size": f.content.as_ref().map(|c| c.len() as u64).unwrap_or(f.declared_length),
        "mode": "hosted",
        "is_external": false,
        "external_type": "",
        "is_public": true,
        "public_url_shared": false,
        "display_as_bot": false,
        "username": "",
        "url_private": file_url(ws, f, false),
        "url_private_download": file_url(ws, f, true),
        "permalink": format!("{}/files/{}/{}/{}", ws.base_url, f.user, f.id, urlencode_path(&f.name)),
        "has_rich_preview": false,
        "file_access": "visible",
    })
}

fn urlencode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
