//! Keeps ARCHITECTURE.md true: its dependency list must equal the workspace's real dependency edges (from
//! `cargo metadata`), every crate must have a section in its code map, and every library crate's doc must
//! name each module the crate declares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// A crate and the workspace crates it depends on (normal and build dependencies; dev-dependencies are
/// test scaffolding, not architecture).
pub(crate) type Edges = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// The workspace's real internal edges, and each crate's manifest directory.
pub(crate) fn cargo_edges() -> anyhow::Result<(Edges, BTreeMap<String, PathBuf>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata["packages"].as_array().context("no packages")?;
    let names: BTreeSet<String> = packages.iter().filter_map(|p| p["name"].as_str()).map(str::to_owned).collect();
    let mut edges = Edges::new();
    let mut dirs = BTreeMap::new();
    for package in packages {
        let name = package["name"].as_str().context("package without a name")?.to_owned();
        let manifest = PathBuf::from(package["manifest_path"].as_str().context("no manifest path")?);
        dirs.insert(name.clone(), manifest.parent().context("manifest has a folder")?.to_path_buf());
        let deps = edges.entry(name).or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let kind = dep["kind"].as_str();
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if kind != Some("dev") && names.contains(dep_name) {
                deps.insert(dep_name.to_owned());
            }
        }
    }
    Ok((edges, dirs))
}

/// The edges ARCHITECTURE.md lists: the ```text block after "## Code map", one `crate → dep dep …` per line.
#[cfg(test)]
fn documented_edges(architecture: &str) -> anyhow::Result<Edges> {
    let map = architecture.split_once("## Code map").context("ARCHITECTURE.md has no '## Code map'")?.1;
    let block = map.split_once("```text\n").context("the code map has no ```text dependency block")?.1;
    let block = block.split_once("```").context("the dependency block is not closed")?.0;
    let mut edges = Edges::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (name, deps) = line.split_once('→').with_context(|| format!("'{line}' has no →"))?;
        let deps = deps.split([' ', ',']).filter(|d| !d.is_empty() && *d != "(none)").map(str::to_owned);
        edges.entry(name.trim().to_owned()).or_default().extend(deps);
    }
    Ok(edges)
}

/// Differences between the documented and the real edges, one line each (empty when they agree).
#[cfg(test)]
fn differences(documented: &Edges, real: &Edges) -> Vec<String> {
    let mut out = Vec::new();
    for name in documented.keys().chain(real.keys()).collect::<BTreeSet<_>>() {
        let (doc, cargo) = (documented.get(name), real.get(name));
        match (doc, cargo) {
            (None, Some(_)) => out.push(format!("crate {name} is missing from the diagram")),
            (Some(_), None) => out.push(format!("the diagram names {name}, which is not a workspace crate")),
            (Some(doc), Some(cargo)) => {
                for missing in cargo.difference(doc) {
                    out.push(format!("{name} → {missing} is a real dependency the diagram leaves out"));
                }
                for extra in doc.difference(cargo) {
                    out.push(format!("{name} → {extra} is in the diagram but not in Cargo.toml"));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Modules a library crate declares in its `lib.rs` that the crate doc does not name.
#[cfg(test)]
fn undocumented_modules(lib_rs: &str) -> Vec<String> {
    let doc: String = lib_rs
        .lines()
        .take_while(|l| !l.starts_with("use ") && !l.starts_with("pub ") && !l.starts_with("mod "))
        .collect::<Vec<_>>()
        .join("\n");
    lib_rs
        .lines()
        .filter_map(|l| {
            let l = l.trim_start_matches("pub ").trim_start_matches("pub(crate) ");
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .filter(|module| {
            !module.ends_with("tests")
                && !doc.contains(&format!("`{module}`"))
                && !doc.contains(&format!("`{module}::"))
        })
        .collect()
}

/// Prints the real edges in the diagram's format (`cargo run -p xtask -- architecture`).
pub(crate) fn print() -> anyhow::Result<()> {
    let (edges, _) = cargo_edges()?;
    let width = edges.keys().map(String::len).max().unwrap_or(0);
    for (name, deps) in edges {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        let deps = if deps.is_empty() { "(none)".to_owned() } else { deps.join(" ") };
        println!("{name:width$} → {deps}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn architecture() -> String {
        std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
    }

    #[test]
    fn the_dependency_diagram_matches_cargo_metadata() {
        let (real, _) = cargo_edges().unwrap();
        let documented = documented_edges(&architecture()).unwrap();
        let diff = differences(&documented, &real);
        assert!(diff.is_empty(), "ARCHITECTURE.md's dependency diagram is out of date:\n{}", diff.join("\n"));
    }

    #[test]
    fn the_check_sees_a_missing_and_an_invented_edge() {
        let real = Edges::from([("a".into(), BTreeSet::from(["b".into()])), ("b".into(), BTreeSet::new())]);
        let documented = documented_edges("## Code map\n```text\na → c\nb → (none)\n```\n").unwrap();
        let diff = differences(&documented, &real);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(diff[0].contains("a → b") && diff[1].contains("a → c"), "{diff:?}");
    }

    #[test]
    fn every_crate_has_a_code_map_section() {
        let (_, dirs) = cargo_edges().unwrap();
        let text = architecture();
        for (name, dir) in dirs {
            let relative = dir.strip_prefix(root()).unwrap().display().to_string();
            assert!(text.contains(&format!("### `{relative}`")), "ARCHITECTURE.md has no section for {name}");
        }
    }

    #[test]
    fn every_library_doc_names_its_modules() {
        let (_, dirs) = cargo_edges().unwrap();
        for (name, dir) in dirs {
            let Ok(lib) = std::fs::read_to_string(dir.join("src/lib.rs")) else { continue };
            let missing = undocumented_modules(&lib);
            assert!(missing.is_empty(), "{name}'s crate doc does not name its modules {missing:?}");
        }
    }
}
