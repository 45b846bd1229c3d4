//! Installing what a fresh Debian/Ubuntu machine lacks: system packages, npm packages, tauri-driver.
//!
//! Each step checks first and does nothing when the thing is already there, so running it again
//! costs a second or two.

use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::shell::{self, has, root};

/// System packages the app build needs (WebKitGTK and friends, per Tauri's Linux prerequisites).
const BUILD_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "curl",
    "wget",
    "file",
    "libxdo-dev",
    "libssl-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "pkg-config",
];

/// System packages the tests need: a virtual display, the WebKit WebDriver, a D-Bus session for
/// WebKit (and a private one per app test, whose `dbus-monitor` records the app's notifications),
/// Chromium for the buyer-side browser tests, a small CJK font so that screenshots of
/// Chinese screens show characters instead of boxes on a bare server, a colour emoji font for the
/// icons beside words, Python with venv for the aiortc peer in the live test, and `xdotool` and
/// `pdftotext` to answer the app's print dialog and read the PDF it prints.
const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "dbus-x11",
    "dbus-daemon",
    "dbus-bin",
    "at-spi2-core",
    "xdotool",
    "poppler-utils",
    "chromium",
    "imagemagick",
    "fonts-wqy-microhei",
    "fonts-noto-color-emoji",
    "python3",
    "python3-venv",
];

/// What only the benchmarks need: vipsthumbnail, the tool the photo pipeline is compared with.
pub const BENCH_PACKAGES: &[&str] = &["libvips-tools"];

/// The tauri-driver version the app end-to-end tests use.
const TAURI_DRIVER_VERSION: &str = "2.1.0";

pub fn all() -> anyhow::Result<()> {
    system_packages(&[BUILD_PACKAGES, TEST_PACKAGES].concat())?;
    npm_packages()?;
    tauri_driver()
}

pub fn for_running() -> anyhow::Result<()> {
    system_packages(BUILD_PACKAGES)?;
    npm_packages()
}

pub fn system_packages(wanted: &[&str]) -> anyhow::Result<()> {
    if !has("dpkg-query") {
        eprintln!("note: not a Debian-like system; install the equivalents of {wanted:?} yourself");
        return Ok(());
    }
    let missing: Vec<&str> = wanted.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo = if is_root() {
        None
    } else if has("sudo") {
        Some("sudo")
    } else {
        bail!("missing system packages {missing:?}; install them as root (apt-get install {})", missing.join(" "));
    };
    let apt = |args: &[&str]| {
        let mut command = match sudo {
            Some(sudo) => {
                let mut c = Command::new(sudo);
                c.arg("apt-get");
                c
            }
            None => Command::new("apt-get"),
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    shell::run(&mut apt(&["update", "-q"]))?;
    shell::run(apt(&["install", "-y", "-q", "--no-install-recommends"]).args(&missing))
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Installs the locked npm packages of the front end and the browser tests when `node_modules` is
/// missing or older than the lock file.
///
/// `npm install` rather than `npm ci`: the Tauri CLI lists a prebuilt binary per platform as an
/// optional dependency, registries that mirror only some platforms leave the others out of the
/// lock, and `npm ci` then refuses the lock as out of sync. `npm install` still installs the locked
/// versions.
fn npm_packages() -> anyhow::Result<()> {
    for dir in [root().join("ui"), root().join("tests/browser")] {
        let stamp = dir.join("node_modules/.package-lock.json");
        if newer(&dir.join("package-lock.json"), &stamp) {
            shell::run(Command::new("npm").current_dir(&dir).args(["install", "--no-audit", "--no-fund"]))?;
        }
    }
    Ok(())
}

fn newer(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(a), modified(b)) {
        (Some(a), Some(b)) => a > b,
        _ => true,
    }
}

/// The path of tauri-driver, installing it with cargo when missing.
pub fn tauri_driver() -> anyhow::Result<()> {
    if has("tauri-driver") || cargo_bin("tauri-driver").exists() {
        return Ok(());
    }
    shell::run(shell::cargo().args(["install", "tauri-driver", "--locked", "--version", TAURI_DRIVER_VERSION]))
}

pub fn cargo_bin(name: &str) -> std::path::PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_default();
    home.join("bin").join(name)
}
