//! The `handoff` command line: run the daemon, check a config, tune the FAQ.
//!
//! This is the binary's edge: errors become one readable message on stderr
//! and a non-zero exit code here, and nowhere else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
    /// Evaluate or query the FAQ matcher.
    Faq {
        #[command(subcommand)]
        command: handoff::faq::cli::FaqCommand,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match args.command {
        Command::Run { config } => cli::run(&config),
        Command::CheckConfig { config } => cli::check_config(&config),
        Command::Faq { command } => handoff::faq::cli::run(command).map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
