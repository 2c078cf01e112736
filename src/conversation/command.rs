//! Agent commands: `!claim`, `!resolve`, `!note <text>`, `!transfer <team>`,
//! typed in a case room or thread, or pressed as Block Kit buttons.
//!
//! A message is a command when it starts with `!` followed by a letter;
//! anything else an agent writes is relayed to the customer. A mistyped
//! command is an error (shown to the agent), never relayed.

use std::fmt;

/// What an agent asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take the case.
    Claim,
    /// Close the case; the bot takes over again.
    Resolve,
    /// An internal note, never shown to the customer.
    Note(String),
    /// Move the case to another team.
    Transfer(String),
}

/// Why a command could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command `!{0}`; commands are {USAGE}")]
    Unknown(String),
    #[error("`!{name}` needs {what}, e.g. `{example}`")]
    MissingArgument {
        name: &'static str,
        what: &'static str,
        example: &'static str,
    },
}

/// The commands, for help texts.
pub const USAGE: &str = "`!claim`, `!resolve`, `!note <text>`, `!transfer <team>`";

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Claim => f.write_str("!claim"),
            Command::Resolve => f.write_str("!resolve"),
            Command::Note(t) => write!(f, "!note {t}"),
            Command::Transfer(t) => write!(f, "!transfer {t}"),
        }
    }
}

/// Parses an agent message. `None`: not a command (relay it).
pub fn parse(text: &str) -> Option<Result<Command, CommandError>> {
    let t = text.trim_start();
    let rest = t.strip_prefix('!')?;
    if !rest.chars().next().is_some_and(char::is_alphabetic) {
        return None;
    }
    let (name, arg) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let name = name.to_lowercase();
    Some(match name.as_str() {
        "claim" | "take" => Ok(Command::Claim),
        "resolve" | "close" | "done" => Ok(Command::Resolve),
        "note" if arg.is_empty() => Err(CommandError::MissingArgument {
            name: "note",
            what: "the note text",
            example: "!note customer is on the legacy plan",
        }),
        "note" => Ok(Command::Note(arg.to_string())),
        "transfer" if arg.is_empty() => Err(CommandError::MissingArgument {
            name: "transfer",
            what: "a team name",
            example: "!transfer billing",
        }),
        "transfer" => Ok(Command::Transfer(arg.to_string())),
        _ => Err(CommandError::Unknown(name)),
    })
}

/// Maps a Block Kit button (`action` id, `value`) to a command.
pub fn from_button(action: &str, value: &str) -> Option<Command> {
    match action {
        "claim" => Some(Command::Claim),
        "resolve" => Some(Command::Resolve),
        "transfer" if !value.trim().is_empty() => Some(Command::Transfer(value.trim().to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse("!claim"), Some(Ok(Command::Claim)));
        assert_eq!(parse("  !Resolve  "), Some(Ok(Command::Resolve)));
        assert_eq!(
            parse("!note  VIP, be nice "),
            Some(Ok(Command::Note("VIP, be nice".into())))
        );
        assert_eq!(
            parse("!transfer billing"),
            Some(Ok(Command::Transfer("billing".into())))
        );
        assert_eq!(parse("!close"), Some(Ok(Command::Resolve)));
    }

    #[test]
    fn ordinary_text_is_not_a_command() {
        assert_eq!(parse("hello!"), None);
        assert_eq!(parse("! hello"), None);
        assert_eq!(parse("!!!"), None);
        assert_eq!(parse("!1 thing"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn mistakes_are_errors_not_relays() {
        assert_eq!(
            parse("!cliam"),
            Some(Err(CommandError::Unknown("cliam".into())))
        );
        let e = parse("!note").unwrap().unwrap_err();
        assert!(e.to_string().contains("!note customer"), "{e}");
        let e = parse("!transfer   ").unwrap().unwrap_err();
        assert!(e.to_string().contains("team name"), "{e}");
    }

    #[test]
    fn buttons_map_to_commands() {
        assert_eq!(from_button("claim", ""), Some(Command::Claim));
        assert_eq!(
            from_button("transfer", "tech"),
            Some(Command::Transfer("tech".into()))
        );
        assert_eq!(from_button("transfer", ""), None);
        assert_eq!(from_button("explode", "x"), None);
    }

    #[test]
    fn display_round_trips() {
        for c in [
            Command::Claim,
            Command::Resolve,
            Command::Note("x y".into()),
            Command::Transfer("tech".into()),
        ] {
            assert_eq!(parse(&c.to_string()), Some(Ok(c.clone())));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse(&s);
        }
    }
}
