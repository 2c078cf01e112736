//! Errors of loading an FAQ file.
//!
//! Every error names the file (or the origin given for a string) and, when
//! the problem is inside the file, the 1-based line and column, so an admin
//! can jump straight to it. Not for matching: matching cannot fail.
//!
//! Invariant: messages never contain answer texts, only ids, keys and
//! positions.

use std::path::PathBuf;

/// A 1-based position in the FAQ file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why an FAQ could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FaqError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read FAQ file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the FAQ shape.
    #[error("{origin}:{at}: {message}", at = at_or_start(.position))]
    Invalid {
        origin: String,
        position: Option<Position>,
        message: String,
    },
}

fn at_or_start(p: &Option<Position>) -> String {
    p.map_or_else(|| "1:1".to_owned(), |p| p.to_string())
}

impl FaqError {
    /// The position the error points at, if it has one.
    pub fn position(&self) -> Option<Position> {
        match self {
            FaqError::Read { .. } => None,
            FaqError::Invalid { position, .. } => *position,
        }
    }
}

/// Converts a byte offset into a 1-based line and column (in characters).
/// Offsets past the end or inside a character are clamped, never a panic.
pub(crate) fn position_of(src: &str, offset: usize) -> Position {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position { line, column }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_clamped() {
        let src = "ab\ncdé\nf";
        assert_eq!(position_of(src, 0), Position { line: 1, column: 1 });
        assert_eq!(position_of(src, 4), Position { line: 2, column: 2 });
        assert_eq!(position_of(src, 7), Position { line: 2, column: 4 });
        assert_eq!(position_of(src, 999), Position { line: 3, column: 2 });
    }
}
