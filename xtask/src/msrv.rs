//! `cargo xtask msrv`: checks that each workspace crate's `rust-version` is the true minimum:
//! the highest `rust-version` of everything it builds with (its dependencies on every platform,
//! with its dev-dependencies), and never below 1.85, which edition 2024 needs.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// The floor the code itself sets: edition 2024.
const LANGUAGE_FLOOR: &str = "1.85";

type Version = (u64, u64, u64);

fn parse(text: &str) -> Option<Version> {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
        parts.next().flatten().unwrap_or(0),
    ))
}

fn show((major, minor, patch): Version) -> String {
    if patch == 0 {
        format!("{major}.{minor}")
    } else {
        format!("{major}.{minor}.{patch}")
    }
}

/// Checks every member; the report names each crate's minimum and the dependency that sets it.
pub fn check() -> Result<String, String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let packages: HashMap<&str, &Value> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let floor = parse(LANGUAGE_FLOOR).unwrap_or((1, 85, 0));
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for member in metadata["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(id) = member.as_str() else { continue };
        let Some(package) = packages.get(id) else {
            continue;
        };
        let name = package["name"].as_str().unwrap_or(id);
        let (needed, by) = reachable(id, &nodes)
            .into_iter()
            .filter(|dep| *dep != id)
            .filter_map(|dep| {
                let p = packages.get(dep)?;
                let version = parse(p["rust_version"].as_str()?)?;
                Some((
                    version,
                    format!("{} {}", p["name"].as_str()?, p["version"].as_str()?),
                ))
            })
            .max()
            .filter(|(version, _)| *version > floor)
            .unwrap_or((floor, "edition 2024".to_owned()));
        let declared = package["rust_version"].as_str().and_then(parse);
        lines.push(format!("{name}: {} ({by})", show(needed)));
        if declared != Some(needed) {
            problems.push(format!(
                "{name} declares rust-version {} but its true minimum is {} (set by {by})",
                declared.map_or_else(|| "none".to_owned(), show),
                show(needed)
            ));
        }
    }
    if problems.is_empty() {
        Ok(lines.join("\n"))
    } else {
        Err(problems.join("; "))
    }
}

/// Every package `root` builds with: its dependencies of every kind, then theirs (normal and
/// build: a dependency's dev-dependencies are not built).
fn reachable<'a>(root: &'a str, nodes: &HashMap<&'a str, &'a Value>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![(root, true)];
    while let Some((id, is_root)) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            let kinds = dep["dep_kinds"].as_array();
            let wanted = is_root
                || kinds
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].as_str() != Some("dev"));
            if wanted {
                stack.push((dep_id, false));
            }
        }
    }
    seen
}
