//! The core knows no network by name: outside the composition file
//! `src/bridges.rs`, no code in `src/` names a network (`"matrix"`,
//! `"slack"`, `"web"`) or imports a network crate (`handoff_matrix`,
//! `handoff_slack`, `handoff_web`). Test code is exempt (it may use either network as
//! example data): files declared as `#[cfg(test)] mod x;` and inline
//! `#[cfg(test)] mod tests { … }` blocks, which by convention end a file.
//! A new network then needs only its crate and one entry in the
//! composition file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const COMPOSITION: &str = "src/bridges.rs";
const FORBIDDEN: &[&str] = &[
    "\"matrix\"",
    "\"slack\"",
    "\"web\"",
    "handoff_matrix",
    "handoff_slack",
    "handoff_web",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The directory holding the submodules of the module in `file`.
fn module_dir(file: &Path) -> PathBuf {
    let parent = file.parent().expect("parent").to_path_buf();
    match file.file_name().and_then(|n| n.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => parent,
        _ => parent.join(file.file_stem().expect("stem")),
    }
}

/// Files (or whole directories) that are test-only modules.
fn test_only(files: &[PathBuf]) -> HashSet<PathBuf> {
    let mut out = HashSet::new();
    for file in files {
        let src = std::fs::read_to_string(file).expect("read");
        let lines: Vec<&str> = src.lines().collect();
        for pair in lines.windows(2) {
            if pair[0].trim() != "#[cfg(test)]" {
                continue;
            }
            let decl = pair[1].split("//").next().unwrap_or("").trim();
            let decl = decl.strip_prefix("pub(crate) ").unwrap_or(decl);
            if let Some(name) = decl.strip_prefix("mod ").and_then(|d| d.strip_suffix(';')) {
                let dir = module_dir(file);
                out.insert(dir.join(format!("{name}.rs")));
                out.insert(dir.join(name));
            }
        }
    }
    out
}

/// The part of `src` before its inline test module, if any.
fn before_inline_tests(src: &str) -> &str {
    let mut offset = 0;
    let mut prev_cfg_test = None;
    for line in src.split_inclusive('\n') {
        let t = line.trim();
        if let Some(start) = prev_cfg_test {
            if t.starts_with("mod ") && t.ends_with('{') {
                return &src[..start];
            }
        }
        prev_cfg_test = (t == "#[cfg(test)]").then_some(offset);
        offset += line.len();
    }
    src
}

#[test]
fn no_code_in_src_names_a_network_outside_the_composition_file() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    assert!(files.len() > 20, "src/ was not found: {files:?}");
    let tests = test_only(&files);
    let mut found = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root()).expect("under the root");
        if rel == Path::new(COMPOSITION)
            || tests.contains(file)
            || tests.iter().any(|t| t.is_dir() && file.starts_with(t))
        {
            continue;
        }
        let src = std::fs::read_to_string(file).expect("read");
        for (n, line) in before_inline_tests(&src).lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    found.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core names a network outside {COMPOSITION} (ask a bridge's Capabilities, or move the code to its crate):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_must() {
    // The exemptions must not hide real code: an inline test module is cut
    // only from its `#[cfg(test)]` line on.
    let src = "fn a() { \"matrix\"; }\n#[cfg(test)]\nmod tests {\n  \"slack\"\n}\n";
    let kept = before_inline_tests(src);
    assert!(kept.contains("\"matrix\""));
    assert!(!kept.contains("\"slack\""));
    // A `#[cfg(test)]` item that is not a module does not end the scan.
    let src = "#[cfg(test)]\nfn helper() {}\nfn b() { \"slack\"; }\n";
    assert!(before_inline_tests(src).contains("\"slack\""));
    // The composition file itself names both networks (so the check's
    // words are the ones the code really uses).
    let comp = std::fs::read_to_string(root().join(COMPOSITION)).expect("composition file");
    assert!(
        comp.contains("handoff_matrix")
            && comp.contains("handoff_slack")
            && comp.contains("handoff_web")
    );
}
