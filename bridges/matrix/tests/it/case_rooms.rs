//! Case rooms cannot be hijacked: a room someone prepared under the case's
//! alias is never used, joined or posted to.

use crate::common;

use std::sync::Arc;

use common::{config, server, user, MemState, PASSWORD, WAIT};
use handoff_bridge_api::{
    Action, Bridge, CaseStatus, CaseSummary, Delivered, DeskTarget, Outgoing,
};
use handoff_matrix::{case_alias_localpart, MatrixBridge};
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};

#[tokio::test]
async fn a_room_prepared_under_the_case_alias_gets_nothing() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&synapse, "alice").await;
    let mallory = user(&synapse, "mallory").await;
    let key = "case-7/open";
    // The worst case: mallory knows the alias (it needs the bot's secret)
    // and takes it first, with a public room the bot could simply join.
    let mut request = CreateRoomRequest::new();
    request.name = Some("Case #7".into());
    request.preset = Some(RoomPreset::PublicChat);
    request.room_alias_name = Some(case_alias_localpart(PASSWORD, key));
    let trap = mallory.create_room_with(request).await.unwrap();

    let bot = MatrixBridge::connect(config(&synapse, dir.path()), Arc::new(MemState::default()))
        .await
        .unwrap();
    let open = Outgoing {
        key: key.into(),
        action: Action::OpenCase {
            desk: DeskTarget::PrivateRoom {
                invite: vec![alice.user_id().to_string()],
                encrypted: false,
            },
            summary: CaseSummary::new("Case #7", CaseStatus::Waiting, "Waiting")
                .field("Card", "4111"),
        },
    };
    let opened = bot.send(&open).await.unwrap();
    let Delivered::CaseOpened { endpoint, .. } = &opened else {
        panic!("expected CaseOpened, got {opened:?}");
    };
    assert_ne!(
        endpoint.room,
        trap.as_str(),
        "the case went to the prepared room"
    );
    // The agents are invited to the new room, and it is the case's.
    let invited = alice.wait_for_invite(WAIT).await.unwrap();
    assert_eq!(invited.as_str(), endpoint.room);
    assert_eq!(bot.send(&open).await.unwrap(), opened, "a retry keeps it");

    // Mallory's room: the bot never joined and never posted.
    mallory.sync_once().await.unwrap();
    let room = mallory.room(&trap).unwrap();
    let mut opts = MessagesOptions::backward();
    opts.limit = 50u32.into();
    let page = room.messages(opts).await.unwrap();
    let bot_id = bot.user_id().to_string();
    for ev in page.chunk {
        let json = ev.raw().deserialize_as::<serde_json::Value>().unwrap();
        assert_ne!(
            json["sender"],
            bot_id.as_str(),
            "the bot acted in the trap: {json}"
        );
    }
    let members = room
        .members(matrix_sdk::RoomMemberships::ACTIVE)
        .await
        .unwrap();
    assert!(
        members.iter().all(|m| m.user_id().as_str() != bot_id),
        "the bot joined the trap"
    );
}
