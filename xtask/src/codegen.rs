//! Generated files: the front end's TypeScript bindings and the server's OpenAPI document.
//!
//! Both are committed so that reviewers see API changes in diffs; `--check` (run by the test
//! command) fails when a committed file differs from a fresh generation.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::shell::root;

struct Generated {
    path: PathBuf,
    contents: String,
}

fn all() -> Vec<Generated> {
    vec![
        Generated { path: root().join("ui/src/api/bindings.ts"), contents: client::bindings::typescript() },
        Generated { path: root().join("crates/market/openapi.json"), contents: market::api::openapi_json() + "\n" },
    ]
}

pub fn run(check: bool) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    for file in all() {
        let current = std::fs::read_to_string(&file.path).unwrap_or_default();
        if current == file.contents {
            continue;
        }
        if check {
            stale.push(file.path.display().to_string());
        } else {
            std::fs::write(&file.path, &file.contents).with_context(|| format!("writing {}", file.path.display()))?;
            println!("wrote {}", file.path.display());
        }
    }
    if !stale.is_empty() {
        bail!("generated files are out of date (run `cargo xtask codegen`): {}", stale.join(", "));
    }
    Ok(())
}
