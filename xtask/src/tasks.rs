//! The README's two commands: `run` and `test`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::shell::{self, cargo, npm, root};
use crate::{codegen, setup};

/// The app's binary as the Tauri CLI builds it in debug mode.
fn app_binary() -> PathBuf {
    root().join("target/debug/fieldcast-app")
}

/// Builds the front end and the desktop app (with the front end embedded) in debug mode, plus the
/// `.deb` package when `bundle` is set.
fn build_app(bundle: Bundle) -> anyhow::Result<()> {
    // The CLI finds the project by looking for tauri.conf.json below its working directory, so it
    // runs from the root; the npm package pins its version.
    let mut command = Command::new(root().join("ui/node_modules/.bin/tauri"));
    command.current_dir(root()).args(["build", "--debug", "--ci"]);
    match bundle {
        Bundle::Deb => command.args(["--bundles", "deb"]),
        Bundle::None => command.arg("--no-bundle"),
    };
    shell::run(&mut command)
}

#[derive(Clone, Copy)]
enum Bundle {
    Deb,
    None,
}

/// Every check and test, in the order that fails fastest.
pub fn test() -> anyhow::Result<()> {
    setup::all()?;
    codegen::run(true)?;
    shell::run(npm().args(["run", "typecheck"]))?;
    shell::run(npm().args(["test"]))?;
    shell::run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    shell::run(cargo().args(["test", "--workspace", "--exclude", "tests", "--exclude", "fieldcast-app"]))?;
    shell::run(cargo().args(["build", "-p", "market", "-p", "device"]))?;
    // The browser tests run the app's front end over the device's bridge (`serve-ui`).
    shell::run(npm().args(["run", "build"]))?;
    let artifacts = root().join("target/artifacts");
    shell::run(
        Command::new("npm")
            .current_dir(root().join("tests/browser"))
            .arg("test")
            .env("FIELDCAST_MARKET_BIN", root().join("target/debug/fieldcast-market"))
            .env("FIELDCAST_DEVICE_BIN", root().join("target/debug/fieldcast-device"))
            .env("FIELDCAST_UI_DIST", root().join("ui/dist"))
            .env("FIELDCAST_ARTIFACTS", &artifacts),
    )?;
    build_app(Bundle::Deb)?;
    let driver = which_tauri_driver();
    shell::run(
        cargo()
            .args(["test", "-p", "tests", "--", "--test-threads", "1"])
            .env("FIELDCAST_APP_BIN", app_binary())
            .env("FIELDCAST_MARKET_BIN", root().join("target/debug/fieldcast-market"))
            .env("FIELDCAST_DEVICE_BIN", root().join("target/debug/fieldcast-device"))
            .env("FIELDCAST_TAURI_DRIVER", driver)
            .env("FIELDCAST_ARTIFACTS", &artifacts),
    )?;
    eprintln!("all tests passed; screenshots in target/artifacts/");
    Ok(())
}

fn which_tauri_driver() -> PathBuf {
    let installed = setup::cargo_bin("tauri-driver");
    if installed.exists() { installed } else { PathBuf::from("tauri-driver") }
}

/// Starts the marketplace server and, where there is a display, the desktop app beside it.
pub fn run() -> anyhow::Result<()> {
    setup::for_running()?;
    shell::run(cargo().args(["build", "-p", "market", "-p", "device"]))?;
    let data = root().join("data");
    let addr = std::env::var("FIELDCAST_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let mut server = Command::new(root().join("target/debug/fieldcast-market"))
        .args(["serve", "--demo", "--addr", &addr, "--data-dir"])
        .arg(data.join("market"))
        .spawn()
        .context("starting the marketplace server")?;

    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !has_display {
        eprintln!("no display: the server runs alone (Ctrl-C stops it)");
        server.wait()?;
        return Ok(());
    }
    build_app(Bundle::None)?;
    let app = Command::new(app_binary())
        .env("FIELDCAST_DATA_DIR", data.join("device"))
        .env("FIELDCAST_SERVER_URL", format!("http://{addr}"))
        .status()
        .context("starting the desktop app");
    // Closing the app ends the session; the server goes with it.
    let _ = server.kill();
    let _ = server.wait();
    app.map(|_| ())
}
