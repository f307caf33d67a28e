//! The layering rules, checked by reading the source tree (see the crate doc for the map):
//! `model` at the bottom depends on nothing else of ours; `sources` and `model` never reach up
//! into `state`, `ui`, `app` or `core`; `ui` never talks to `sources`; nothing below `ui` knows
//! about the terminal.

use std::path::{Path, PathBuf};

/// One rule: files under `dir` must not mention any of `forbidden` in code (comments are
/// ignored; `use` lines and inline paths both count).
struct Rule {
    dir: &'static str,
    forbidden: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        dir: "src/model",
        forbidden: &[
            "crate::state",
            "crate::ui",
            "crate::app",
            "crate::core",
            "crate::sources",
            "crate::config",
            "crate::audit::",
            "crate::theme",
            "crate::keymap",
            "super::super",
            "ratatui",
            "crossterm",
            "tokio",
            "reqwest",
        ],
        why: "model is plain data and pure functions: it depends on nothing else of ours and does no I/O",
    },
    Rule {
        dir: "src/sources",
        forbidden: &[
            "crate::state",
            "crate::ui",
            "crate::app",
            "crate::core",
            "super::super",
            "ratatui",
            "crossterm",
        ],
        why: "sources send facts down to the model; they never reach up into the state or the view",
    },
    Rule {
        dir: "src/state",
        forbidden: &[
            "crate::ui",
            "crate::app",
            "crate::core",
            "ratatui",
            "crossterm",
        ],
        why: "the state is pure: nothing in it knows about the terminal or the event loop",
    },
    Rule {
        dir: "src/ui",
        forbidden: &["crate::sources", "crate::app", "crate::core"],
        why: "the view reads the state; it never talks to a source",
    },
    Rule {
        dir: "src/ui",
        forbidden: &["std::cell", "RefCell", "cell::Cell"],
        why: "the view writes nothing: what it computes (the layout) goes back as an event",
    },
    Rule {
        dir: "src/state",
        forbidden: &["std::cell", "RefCell", "cell::Cell"],
        why: "every state change is a reducer's, never a cell written while drawing",
    },
    Rule {
        dir: "src/model",
        forbidden: &["std::cell", "RefCell", "cell::Cell"],
        why: "model is plain data",
    },
    Rule {
        dir: "tests",
        forbidden: &["fn dispatch"],
        why: "the tests drive the console's own Core, never a copy of its routing",
    },
];

/// The code of a Rust file without its comments (line comments and doc comments; block comments
/// are not used in this tree).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal ("http://…") is code: only cut when what precedes
            // has an even number of quotes.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every violation of `rule` in `text` (from `file`), as "file: uses X (why)".
fn violations(rule: &Rule, file: &Path, text: &str) -> Vec<String> {
    let code = code_of(text);
    rule.forbidden
        .iter()
        .filter(|f| code.contains(*f))
        .map(|f| format!("{}: uses {f} — {}", file.display(), rule.why))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_tree_keeps_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut checked = 0;
    for rule in RULES {
        let mut files = Vec::new();
        rust_files(&root.join(rule.dir), &mut files);
        assert!(!files.is_empty(), "{} holds no Rust files", rule.dir);
        for f in files {
            let text = std::fs::read_to_string(&f).expect("reading a source file");
            checked += 1;
            found.extend(violations(rule, f.strip_prefix(root).unwrap_or(&f), &text));
        }
    }
    assert!(checked > 60, "only {checked} files checked");
    assert!(found.is_empty(), "layer violations:\n{}", found.join("\n"));
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    let rule = &RULES[1];
    let f = Path::new("src/sources/x.rs");
    assert_eq!(
        violations(rule, f, "use crate::state::members::Member;\n").len(),
        1
    );
    assert_eq!(
        violations(rule, f, "let m = crate::ui::fmt::fit(s, 3);\n").len(),
        1
    );
    assert_eq!(violations(rule, f, "use ratatui::text::Line;\n").len(), 1);
    assert!(violations(
        rule,
        f,
        "// crate::state is above us\nlet u = \"http://x\";\n"
    )
    .is_empty());
    assert!(violations(rule, f, "use crate::model::Member; // not crate::state\n").is_empty());
}
