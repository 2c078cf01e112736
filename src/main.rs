//! The `handoff` command line: run the daemon, check a config, tune the FAQ.
//!
//! This is the binary's edge: errors become one readable message on stderr
//! and a non-zero exit code here, and nowhere else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use handoff::config::LogFormat;

mod cli;
mod manage;

/// First-line support in chat that hands customers to humans without
/// dropping context.
#[derive(Parser)]
#[command(name = "handoff", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: answer customers, open cases, relay until resolved.
    Run {
        /// The config file (see config/example.toml).
        #[arg(long, short, default_value = "config/handoff.toml")]
        config: PathBuf,
    },
    /// Validate a config file and its FAQ without connecting anywhere.
    CheckConfig {
        /// The config file to check.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Manager figures: containment, escalations by reason and team, first
    /// reply and resolution times, abandonment, CSAT.
    Stats {
        /// The config of the handoff whose store to read.
        #[arg(long, short)]
        config: PathBuf,
        /// The window: a duration back from now (7d, 24h) or an RFC 3339 time.
        #[arg(long, default_value = "7d")]
        since: String,
        /// text, json, or csv (one row per total, agent and day).
        #[arg(long, default_value = "text")]
        format: String,
        /// The same as `--format json`.
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
    /// Case transcripts (who said what, bot answers, notes marked internal).
    Export {
        /// The config of the handoff whose store to read.
        #[arg(long, short)]
        config: PathBuf,
        /// One case by number.
        #[arg(long, conflicts_with = "since", required_unless_present = "since")]
        case: Option<u64>,
        /// Every case opened in this window (7d, 24h, or an RFC 3339 time).
        #[arg(long)]
        since: Option<String>,
        /// jsonl (one case per line), md, or csv (one transcript line per row).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Replace each customer's id, name and room by "customer-N"
        /// (numbered within this export), also where their name appears
        /// in the transcript.
        #[arg(long)]
        anonymize: bool,
    },
    /// Outbox entries that failed for good (parked): list them, or queue
    /// them again for the next `handoff run`.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Copy the store and the Matrix session/crypto directory into a new
    /// directory, also while `handoff run` holds them (it then copies them
    /// itself, from one point in time).
    Backup {
        /// The config of the handoff to back up.
        #[arg(long, short)]
        config: PathBuf,
        /// A new or empty directory (the running daemon must be able to write it).
        #[arg(long)]
        to: PathBuf,
    },
    /// Erase one customer: their conversations, their cases' personal
    /// fields and transcripts, pending deliveries and message links (case
    /// numbers and figures stay). Prints what was erased. Also while
    /// `handoff run` holds the store.
    Forget {
        /// The config of the handoff.
        #[arg(long, short)]
        config: PathBuf,
        /// The customer: a user id ("@carol:example.org") or network:id.
        #[arg(long)]
        customer: String,
    },
    /// Put a backup in place of the store and Matrix directory of a
    /// stopped handoff.
    Restore {
        /// The config of the handoff to restore.
        #[arg(long, short)]
        config: PathBuf,
        /// A directory written by `handoff backup`.
        #[arg(long)]
        from: PathBuf,
        /// Replace an existing store and Matrix directory (they are moved
        /// aside, not deleted).
        #[arg(long)]
        force: bool,
    },
    /// Evaluate or query the FAQ matcher; find what it does not cover.
    Faq {
        #[command(subcommand)]
        command: FaqCommand,
    },
}

#[derive(Subcommand)]
enum FaqCommand {
    #[command(flatten)]
    Matcher(handoff::faq::cli::FaqCommand),
    /// What customers asked that the bot could not answer (or whose answer
    /// did not help), near-duplicates grouped, biggest group first: the
    /// FAQ entries worth writing next.
    Gaps {
        /// The config of the handoff whose store to read.
        #[arg(long, short)]
        config: PathBuf,
        /// The window: a duration back from now (7d, 24h) or an RFC 3339 time.
        #[arg(long, default_value = "7d")]
        since: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How alike (0..1, cosine of the matcher's vectors) two questions
        /// must be to count as one.
        #[arg(long, value_name = "X", default_value_t = handoff::faq::cluster::DEFAULT_MIN_SIMILARITY)]
        min_similarity: f32,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Lists the parked entries with why they failed.
    List {
        /// The config of the handoff whose store to read.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Moves parked entries back to the queue; the daemon delivers them at
    /// its next start. Needs the store, so stop the daemon first.
    Retry {
        /// The config of the handoff whose store to change.
        #[arg(long, short)]
        config: PathBuf,
        /// One entry by its number (from `handoff outbox list`).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        id: Option<u64>,
        /// Every parked entry.
        #[arg(long)]
        all: bool,
    },
}

/// Log filter without `RUST_LOG`: handoff at info; matrix-sdk, which logs
/// every sync and every sent event at info, at warn.
const DEFAULT_LOG: &str = "info,matrix_sdk=warn,matrix_sdk_base=warn,matrix_sdk_crypto=warn";

/// matrix-sdk 0.18 wakes its key-backup task after every sync and warns
/// "no backup key was found" each time when backups are off (handoff never
/// turns them on): one useless warning per sync. Muted unless `RUST_LOG`
/// names that module itself.
const MUTE_BACKUP_NOISE: &str = "matrix_sdk_crypto::backups=error";

/// The filter for `RUST_LOG` (or the default), with the backup noise muted.
fn log_filter(env: Option<&str>) -> String {
    let base = env
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_LOG);
    if base.contains("matrix_sdk_crypto::backups") {
        base.to_owned()
    } else {
        format!("{base},{MUTE_BACKUP_NOISE}")
    }
}

/// `[log] format` of the config `handoff run` is about to use; text when
/// the config cannot be read (`run` then reports why).
fn log_format(command: &Command) -> LogFormat {
    match command {
        Command::Run { config } => cli::parse_lenient(config)
            .map(|(c, _)| c.log.format)
            .unwrap_or_default(),
        _ => LogFormat::Text,
    }
}

fn init_logging(format: LogFormat) {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Every line carries the fields of the spans it is in (the
        // conversation and case), flattened, so a line is self-contained.
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .flatten_event(true)
            .init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(log_format(&args.command));
    let result = match args.command {
        Command::Run { config } => cli::run(&config),
        Command::CheckConfig { config } => cli::check_config(&config),
        Command::Stats {
            config,
            since,
            format,
            json,
        } => manage::stats(&config, &since, if json { "json" } else { &format }),
        Command::Export {
            config,
            case,
            since,
            format,
            anonymize,
        } => manage::export(&config, case, since.as_deref(), &format, anonymize),
        Command::Outbox {
            command: OutboxCommand::List { config },
        } => manage::outbox_list(&config),
        Command::Outbox {
            command: OutboxCommand::Retry { config, id, .. },
        } => manage::outbox_retry(&config, id),
        Command::Backup { config, to } => manage::backup(&config, &to),
        Command::Forget { config, customer } => manage::forget(&config, &customer),
        Command::Restore {
            config,
            from,
            force,
        } => manage::restore(&config, &from, force),
        Command::Faq {
            command: FaqCommand::Matcher(command),
        } => handoff::faq::cli::run(command).map_err(anyhow::Error::from),
        Command::Faq {
            command:
                FaqCommand::Gaps {
                    config,
                    since,
                    json,
                    min_similarity,
                },
        } => manage::gaps(&config, &since, json, min_similarity),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filter_mutes_backup_noise_unless_asked_for() {
        assert_eq!(
            log_filter(None),
            format!("{DEFAULT_LOG},{MUTE_BACKUP_NOISE}")
        );
        assert_eq!(
            log_filter(Some("debug")),
            "debug,matrix_sdk_crypto::backups=error"
        );
        assert_eq!(
            log_filter(Some("info,matrix_sdk_crypto::backups=trace")),
            "info,matrix_sdk_crypto::backups=trace"
        );
        assert_eq!(log_filter(Some("  ")), log_filter(None));
        for f in [log_filter(None), log_filter(Some("warn,handoff=trace"))] {
            assert!(tracing_subscriber::EnvFilter::try_new(&f).is_ok(), "{f}");
        }
    }
}
