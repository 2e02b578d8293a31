//! The floors of `src/` import only the floors below them (README "Architecture"): this
//! test reads every `crate::<floor>` reference in every file and fails on one that points
//! upwards or sideways, so the direction stays true as the code grows.

use std::collections::BTreeSet;
use std::path::Path;

/// The floors from the bottom up: a floor may use the floors before it, not its
/// neighbours on the same floor (`api` and `web`) and nothing after it.
const FLOORS: &[&[&str]] = &[
    &["domain"],
    &["error"],
    &["metrics"],
    &["mail"],
    &["config"],
    &["seal"],
    &["db"],
    &["documents"],
    &["store"],
    &["seed"],
    &["actions"],
    &["demo"],
    &["http"],
    &["api", "web"],
];

/// The top, which may use everything: building the application, its background work,
/// the command line.
const TOP: &[&str] = &["jobs", "app", "cli", "main", "lib"];

/// Pairs a floor order alone would allow but the design does not: the contract texts
/// are rendered from facts handed in, never read from the database.
const ALSO_FORBIDDEN: &[(&str, &str)] = &[("documents", "db")];

/// Whether `floor` may use `name`.
fn allowed(floor: &str, name: &str) -> Result<bool, String> {
    let level = |f: &str| FLOORS.iter().position(|l| l.contains(&f));
    if TOP.contains(&floor) {
        return Ok(true);
    }
    let Some(mine) = level(floor) else {
        return Err(format!("src/{floor} is on no floor of this test: add it"));
    };
    if ALSO_FORBIDDEN.contains(&(floor, name)) {
        return Ok(false);
    }
    Ok(match level(name) {
        Some(theirs) => theirs < mine || name == floor,
        // Not a floor: a macro exported at the crate root (`insert_batch!`).
        None => !TOP.contains(&name),
    })
}

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
    // `use crate::{a, b::{c, d}}` names several floors at once: the top-level names of
    // the group, with nested groups skipped by counting braces.
    let mut rest = text;
    while let Some(at) = rest.find("crate::{") {
        rest = &rest[at + "crate::{".len()..];
        let (mut depth, mut name, mut at_start) = (0, String::new(), true);
        for c in rest.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.insert(std::mem::take(&mut name));
                    at_start = true;
                }
                ':' if depth == 0 => at_start = false,
                c if depth == 0 && at_start && (c.is_ascii_alphanumeric() || c == '_') => {
                    name.push(c)
                }
                _ => {}
            }
        }
        out.insert(name);
    }
    out.remove("");
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
        checked += 1;
        let text = std::fs::read_to_string(path).unwrap();
        for name in references(&text) {
            match allowed(&floor, &name) {
                Ok(true) => {}
                Ok(false) => wrong.push(format!("{} uses crate::{name}", rel.display())),
                Err(problem) => wrong.push(problem),
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
    let found =
        references("use crate::{api::{id, page}, web};\nlet x = crate::store::user::User::find;");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["api", "store", "web"]
    );
    assert_eq!(allowed("store", "db"), Ok(true));
    assert_eq!(allowed("db", "store"), Ok(false));
    assert_eq!(allowed("api", "web"), Ok(false));
    assert_eq!(allowed("web", "http"), Ok(true));
    assert_eq!(allowed("documents", "db"), Ok(false));
    assert_eq!(allowed("error", "db"), Ok(false));
    assert_eq!(allowed("app", "web"), Ok(true));
    assert!(allowed("newfloor", "db").is_err(), "an unknown floor fails");
}
