//! The floors of `src/` import only the floors below them (README "Architecture"): this
//! test reads every `crate::<floor>` reference in every file and fails on one that points
//! upwards or sideways, so the direction stays true as the code grows.

use std::collections::BTreeSet;
use std::path::Path;

/// The floors a floor must not reach. `app` and `cli` (the top) and `main`/`lib` may use
/// everything.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "db",
            "models",
            "documents",
            "seal",
            "mail",
            "config",
            "seed",
            "actions",
            "http",
            "api",
            "web",
            "app",
            "cli",
            "error",
        ],
    ),
    (
        "error",
        &[
            "models",
            "documents",
            "seal",
            "mail",
            "config",
            "seed",
            "actions",
            "http",
            "api",
            "web",
            "app",
            "cli",
        ],
    ),
    (
        "db",
        &[
            "models",
            "documents",
            "seal",
            "mail",
            "seed",
            "actions",
            "http",
            "api",
            "web",
            "app",
            "cli",
        ],
    ),
    (
        "documents",
        &[
            "db", "models", "seal", "mail", "config", "seed", "actions", "http", "api", "web",
            "app", "cli",
        ],
    ),
    (
        "seal",
        &[
            "db", "models", "mail", "seed", "actions", "http", "api", "web", "app", "cli",
        ],
    ),
    (
        "mail",
        &[
            "db",
            "models",
            "documents",
            "seal",
            "seed",
            "actions",
            "http",
            "api",
            "web",
            "app",
            "cli",
        ],
    ),
    (
        "config",
        &[
            "db",
            "models",
            "documents",
            "seed",
            "actions",
            "http",
            "api",
            "web",
            "app",
            "cli",
        ],
    ),
    (
        "models",
        &["seed", "actions", "http", "api", "web", "app", "cli"],
    ),
    ("seed", &["actions", "http", "api", "web", "app", "cli"]),
    ("actions", &["http", "api", "web", "app", "cli"]),
    ("http", &["api", "web", "app", "cli"]),
    ("api", &["web", "app", "cli"]),
    ("web", &["api", "app", "cli"]),
];

/// Every `crate::<name>` a file mentions (in `use` lines and paths alike; comments too,
/// which keeps doc links honest).
fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    // `use crate::{a, b}` names several floors at once.
    let mut rest = text;
    while let Some(at) = rest.find("crate::{") {
        rest = &rest[at + "crate::{".len()..];
        let group = &rest[..rest.find('}').unwrap_or(rest.len())];
        for part in group.split(',') {
            let name = part.trim().split("::").next().unwrap_or("").to_string();
            out.insert(name);
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_floor_imports_only_the_floors_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for path in &all {
        let rel = path.strip_prefix(&src).unwrap();
        let floor = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(f, _)| *f == floor) else {
            continue;
        };
        checked += 1;
        let text = std::fs::read_to_string(path).unwrap();
        for name in references(&text) {
            if forbidden.contains(&name.as_str()) {
                wrong.push(format!("{} uses crate::{name}", rel.display()));
            }
        }
    }
    assert!(checked > 60, "only {checked} files checked");
    assert!(
        wrong.is_empty(),
        "imports against the direction:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_nested_paths() {
    let found = references("use crate::{api::id, web};\nlet x = crate::models::user::User::find;");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["api", "models", "web"]
    );
}
