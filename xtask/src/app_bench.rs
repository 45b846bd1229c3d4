//! The app's own figures: binary size (built with the `app` profile, as it ships), cold start to the first screen painted under Xvfb,
//! and memory after a minute idle, webview processes included.
//!
//! Start-up is timed from spawning the binary to the line the app prints when the front end
//! reports its first screen on the glass (two animation frames after the first render), with a
//! fresh data directory each run. Memory is summed over the app and every process under it
//! (WebKit's web and network processes), as RSS and as PSS (shared pages split fairly).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::shell::{self, root};

/// Cold starts measured; the median is reported.
const STARTS: usize = 5;
/// How long the app idles before its memory is read: a benchmark samples after a fixed time.
const IDLE: Duration = Duration::from_secs(60);

pub fn measure() -> anyhow::Result<Value> {
    let mut build = Command::new(root().join("ui/node_modules/.bin/tauri"));
    // The app's own size-first profile (Cargo.toml, `[profile.app]`); the CLI passes what follows
    // `--` to cargo and looks for the binary under the profile's directory.
    build.current_dir(root()).args(["build", "--ci", "--no-bundle", "--", "--profile", "app"]);
    shell::run(&mut build)?;
    let binary = root().join("target/app/fieldcast-app");
    let size = std::fs::metadata(&binary).context("the release app binary")?.len();

    let display = Xvfb::start()?;
    let mut starts = Vec::new();
    let mut last = None;
    for _ in 0..STARTS {
        let data = tempfile::tempdir()?;
        let (ms, child) = start(&binary, &display.name, data.path())?;
        starts.push(ms);
        if let Some((mut old, _)) = last.replace((child, data)) {
            stop(&mut old);
        }
    }
    let (mut child, _data) = last.context("at least one start")?;
    std::thread::sleep(IDLE);
    let pids = tree(child.id());
    let (rss, pss) = pids.iter().map(|&pid| memory(pid)).fold((0, 0), |(r, p), (r2, p2)| (r + r2, p + p2));
    stop(&mut child);
    starts.sort_by(f64::total_cmp);
    Ok(json!({
        "binary_bytes": size,
        "cold_start_ms": starts,
        "cold_start_median_ms": starts[starts.len() / 2],
        "idle_seconds": IDLE.as_secs(),
        "processes": pids.len(),
        "idle_rss_bytes": rss,
        "idle_pss_bytes": pss,
    }))
}

/// Starts the app and waits for its "first screen painted" line; returns the time it took.
fn start(binary: &Path, display: &str, data: &Path) -> anyhow::Result<(f64, Child)> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("DISPLAY", display)
        .env("FIELDCAST_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the app")?;
    let stdout = child.stdout.take().context("stdout")?;
    for line in BufReader::new(stdout).lines() {
        if line?.starts_with("first screen painted") {
            return Ok((started.elapsed().as_secs_f64() * 1e3, child));
        }
    }
    stop(&mut child);
    anyhow::bail!("the app exited before painting its first screen")
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `pid` and every process below it.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut index = 0;
    while index < all.len() {
        let parent = all[index];
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap_or_default();
        all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        index += 1;
    }
    all
}

/// (RSS, PSS) in bytes, from `smaps_rollup`.
fn memory(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("Rss:"), field("Pss:"))
}

/// A virtual display for the duration of the measurement.
struct Xvfb {
    child: Child,
    name: String,
}

impl Xvfb {
    /// Xvfb chooses a free display itself (`-displayfd`: past the locks that killed servers leave
    /// behind) and writes its number once it accepts clients.
    fn start() -> anyhow::Result<Xvfb> {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting Xvfb")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
        let number: u32 = line.trim().parse().with_context(|| format!("Xvfb named no display: {line:?}"))?;
        Ok(Xvfb { child, name: format!(":{number}") })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
