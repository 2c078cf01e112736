//! `slack-emulator`: runs the emulator on 127.0.0.1 for manual poking
//! (curl, a locally run bridge) until Ctrl-C.
//!
//! Not for tests, which start the library's `Emulator` in-process. The
//! invariant: it prints the URLs and tokens a client needs and nothing else.

use slack_emulator::{Emulator, EmulatorConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let general = emu.add_channel("general");
    let alice = emu.add_user("alice", false);
    println!("Web API:   {}", emu.api_url());
    println!("bot token: {}", emu.bot_token());
    println!("app token: {}", emu.app_token());
    println!("channel #general = {general}, user alice = {alice}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
