//! The subcommands behind `handoff run` and `handoff check-config`
//! (binary-only: this is where typed errors become `anyhow` messages).

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use handoff::config::Config;
use handoff::faq::Faq;

/// Loads the config and its FAQ, checks that they agree, and prints a
/// short summary. Connects to nothing.
pub fn check_config(path: &Path) -> anyhow::Result<()> {
    let (config, missing) = parse_lenient(path)?;
    let faq = load_faq(path, &config)?;
    println!("{}: OK", path.display());
    for d in &config.deprecations {
        println!("  deprecated: {d}");
    }
    for name in missing {
        println!("  warning: environment variable {name} is not set; `handoff run` needs it");
    }
    println!(
        "  bot \"{}\", store {}",
        config.bot.name,
        config.bot.store.display()
    );
    println!(
        "  FAQ {}: {} entries, {} questions, answers at confidence >= {}",
        config.bot.faq.display(),
        faq.entries().len(),
        faq.question_count(),
        config.bot.min_confidence
    );
    for (name, settings) in &config.networks {
        println!("  {name}: {}", settings.describe());
    }
    println!("  teams:");
    for t in &config.teams {
        let sla = t
            .first_reply_sla
            .map(|d| format!(", first reply within {}", humantime::format_duration(d)))
            .unwrap_or_default();
        println!(
            "    {}{}: desk {}, {} agent(s), {} topic(s), hours {}{sla}",
            t.name,
            if t.default { " (default)" } else { "" },
            t.desk,
            t.agents.len(),
            t.topics.len(),
            t.hours,
        );
    }
    let e = &config.escalation;
    println!(
        "  escalation: {} request phrase(s), after {} miss(es), {} human-only topic(s), {} anger word(s), {} VIP(s), {} escalate-entries in the FAQ",
        e.ask_phrases.len(),
        e.max_misses,
        e.human_topics.len(),
        e.anger_words.len(),
        e.vip.len(),
        faq.entries().iter().filter(|x| x.escalate).count()
    );
    Ok(())
}

/// Parses the config where secrets may be unset (they are often only set
/// where the daemon runs): a missing `${VAR}` becomes a placeholder and is
/// returned by name, instead of failing as it does for `run`.
pub fn parse_lenient(path: &Path) -> anyhow::Result<(Config, Vec<String>)> {
    let missing = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = missing.clone();
    let src = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config file", path.display()))?;
    let config = Config::parse(
        &src,
        path,
        move |name| {
            std::env::var(name).ok().or_else(|| {
                if let Ok(mut m) = seen.lock() {
                    m.push(name.to_string());
                }
                Some(format!("unset-{name}"))
            })
        },
        &handoff::bridges::networks(),
    )?;
    let missing = missing.lock().map(|m| m.clone()).unwrap_or_default();
    Ok((config, missing))
}

/// Loads and cross-checks config and FAQ.
pub fn load(path: &Path) -> anyhow::Result<(Config, Faq)> {
    let config = Config::load(path, &handoff::bridges::networks())?;
    let faq = load_faq(path, &config)?;
    Ok((config, faq))
}

fn load_faq(path: &Path, config: &Config) -> anyhow::Result<Faq> {
    let faq = Faq::load(&config.bot.faq)
        .with_context(|| format!("loading the FAQ named in {}", path.display()))?;
    for entry in faq.entries() {
        if let Some(team) = &entry.team {
            if config.team(team).is_none() {
                anyhow::bail!(
                    "{}: FAQ entry {:?} names team {team:?}, which is not configured in {}",
                    config.bot.faq.display(),
                    entry.id,
                    path.display()
                );
            }
        }
    }
    Ok(faq)
}

/// `handoff run`.
pub fn run(path: &Path) -> anyhow::Result<()> {
    let (config, faq) = load(path)?;
    // A reload checks an edited FAQ exactly like the start did.
    let reload_config = config.clone();
    let config_path = path.to_owned();
    let reload: handoff::reload::FaqLoader =
        Arc::new(move || load_faq(&config_path, &reload_config).map_err(|e| format!("{e:#}")));
    handoff::daemon::run(config, faq, reload)?;
    Ok(())
}
