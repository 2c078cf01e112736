//! The figures a run produced, collected for the compact table printed at
//! the end and, with `--summary FILE`, appended to a tab-separated file that
//! `scripts/bench.sh` merges with the FAQ criterion numbers.
//!
//! Not for measuring or for per-benchmark detail lines (each benchmark
//! prints those as it goes). The invariant: a figure is recorded once, as
//! measured, with its section, name and a goal verdict when the issue set
//! one; nothing here computes or adjusts a number.

use std::io::Write;
use std::path::Path;

/// One line of the final table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub section: String,
    pub name: String,
    pub value: String,
    /// "goal: < 5 ms ✓" style note, or empty.
    pub goal: String,
}

/// All figures of a run, in the order they were measured.
#[derive(Debug, Default)]
pub struct Report {
    figures: Vec<Figure>,
}

impl Report {
    pub fn add(&mut self, section: &str, name: &str, value: impl Into<String>) {
        self.add_goal(section, name, value, "");
    }

    /// A figure with a goal note (`met` decides ✓ or ✗).
    pub fn add_checked(
        &mut self,
        section: &str,
        name: &str,
        value: impl Into<String>,
        goal: &str,
        met: bool,
    ) {
        let mark = if met { "met" } else { "MISSED" };
        self.add_goal(section, name, value, &format!("goal {goal}: {mark}"));
    }

    fn add_goal(&mut self, section: &str, name: &str, value: impl Into<String>, goal: &str) {
        self.figures.push(Figure {
            section: section.into(),
            name: name.into(),
            value: value.into(),
            goal: goal.into(),
        });
    }

    /// The table as aligned text lines.
    pub fn table(&self) -> String {
        let w_sec = width(self.figures.iter().map(|f| &f.section), 7);
        let w_name = width(self.figures.iter().map(|f| &f.name), 6);
        let w_val = width(self.figures.iter().map(|f| &f.value), 5);
        let mut out = format!(
            "{:<w_sec$}  {:<w_name$}  {:<w_val$}  goal\n",
            "section", "figure", "value"
        );
        for f in &self.figures {
            out.push_str(&format!(
                "{:<w_sec$}  {:<w_name$}  {:<w_val$}  {}\n",
                f.section, f.name, f.value, f.goal
            ));
        }
        out
    }

    /// Appends every figure as `section\tname\tvalue\tgoal` lines.
    pub fn append_tsv(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        for f in &self.figures {
            writeln!(
                file,
                "{}\t{}\t{}\t{}",
                clean(&f.section),
                clean(&f.name),
                clean(&f.value),
                clean(&f.goal)
            )?;
        }
        Ok(())
    }
}

fn width<'a>(items: impl Iterator<Item = &'a String>, min: usize) -> usize {
    items.map(|s| s.chars().count()).max().unwrap_or(0).max(min)
}

/// Tabs and newlines would break the TSV: replace them with spaces.
fn clean(s: &str) -> String {
    s.replace(['\t', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_marks_goals() {
        let mut r = Report::default();
        r.add("store", "commit p99", "1.00 ms");
        r.add_checked("scale", "ready 10k", "0.50 s", "< 1 s", true);
        r.add_checked("scale", "rss 10k", "300 MB", "< 200 MB", false);
        let t = r.table();
        assert!(t.contains("goal < 1 s: met"), "{t}");
        assert!(t.contains("goal < 200 MB: MISSED"), "{t}");
        assert_eq!(t.lines().count(), 4);
    }

    #[test]
    fn tsv_lines_have_four_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.tsv");
        let mut r = Report::default();
        r.add("a\tb", "n", "v\nw");
        r.append_tsv(&path).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "a b\tn\tv w\t\n");
    }
}
