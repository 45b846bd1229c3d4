//! `cargo xtask`: the project's commands, in Rust so they run the same on every machine.
//!
//! - `cargo xtask run`: set up, build, start the marketplace server and the desktop app.
//! - `cargo xtask test`: set up, then every check and test CI runs.
//! - `cargo xtask bench`: release builds, every benchmark, figures written to BENCHMARKS.md.
//! - `cargo xtask codegen [--check]`: write (or compare) the generated files.
//!
//! Set-up installs what a fresh Debian/Ubuntu machine lacks (system packages when running as root,
//! npm packages, tauri-driver), so a clone plus these commands is all anyone needs.

mod app_bench;
mod bench;
mod codegen;
mod setup;
mod shell;
mod tasks;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => codegen::run(flags.contains(&"--check")),
        Some("setup") => setup::all(),
        Some("test") => tasks::test(),
        Some("run") => tasks::run(),
        Some("bench") => bench::run(),
        _ => {
            eprintln!("usage: cargo xtask <run | test | bench | codegen [--check] | setup>");
            std::process::exit(2);
        }
    }
}
