//! The app's own figures: binary size (built with the `app` profile, as it ships), cold start to the first screen painted under Xvfb,
//! and memory after a minute idle, webview processes included.
//!
//! Start-up is timed from spawning the binary to the line the app prints when the front end
//! reports its first screen on the glass (two animation frames after the first render), with a
//! fresh data directory each run. Memory is summed over the app and every process under it
//! (WebKit's web and network processes), as RSS and as PSS (shared pages split fairly), and the
//! RSS is broken down by what is mapped (a library, the app's own binary, anonymous memory).
//!
//! The same memory figures are taken, on the same display and after the same idle minute, of
//! WebKitGTK's own example browser (`MiniBrowser`, shipped with the library) showing a blank
//! page: what WebKitGTK itself holds on this machine before a page has anything in it. Side by
//! side, the two show from one run which part of the app's figure is the app's and which the
//! webview's.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::shell::{self, root};

/// Cold starts measured; the median is reported.
const STARTS: usize = 5;
/// How long the app idles before its memory is read: a benchmark samples after a fixed time.
const IDLE: Duration = Duration::from_secs(60);
/// Mappings named in the breakdown of the idle RSS; the rest are summed as one row.
const BREAKDOWN_ROWS: usize = 10;
/// What the app sets for WebKitGTK before it starts (src-tauri/src/main.rs), given to the
/// baseline too so that both paint the same way.
const PAINTING: (&str, &str) = ("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1");

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
    let (child, _data) = last.context("at least one start")?;
    let app = idle(child)?;
    let (minibrowser, baseline) = blank_page(&display.name)?;
    starts.sort_by(f64::total_cmp);
    Ok(json!({
        "binary_bytes": size,
        "cold_start_ms": starts,
        "cold_start_median_ms": starts[starts.len() / 2],
        "idle_seconds": IDLE.as_secs(),
        "processes": app.processes,
        "idle_rss_bytes": app.rss,
        "idle_pss_bytes": app.pss,
        "idle_rss_by_mapping": breakdown(&app, &baseline),
        "baseline": {
            "program": minibrowser,
            "page": "about:blank",
            "processes": baseline.processes,
            "idle_rss_bytes": baseline.rss,
            "idle_pss_bytes": baseline.pss,
        },
    }))
}

/// WebKitGTK's `MiniBrowser` showing a blank page for [`IDLE`], on `display`: its path and its
/// memory.
fn blank_page(display: &str) -> anyhow::Result<(PathBuf, Idle)> {
    let binary = minibrowser().context("no MiniBrowser beside WebKitGTK's helper processes (libwebkit2gtk-4.1-0)")?;
    let child = Command::new(&binary)
        .arg("about:blank")
        .env("DISPLAY", display)
        .env(PAINTING.0, PAINTING.1)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let memory = idle(child).context("MiniBrowser")?;
    Ok((binary, memory))
}

/// Where the installed WebKitGTK keeps its example browser: beside its web and network processes,
/// in the multiarch library directory.
fn minibrowser() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib").ok()?.flatten().map(|entry| entry.path().join("webkit2gtk-4.1/MiniBrowser")).find(|path| path.is_file())
}

/// What a process and those under it hold resident.
struct Idle {
    processes: usize,
    rss: u64,
    pss: u64,
    /// RSS by mapping, with how many of the processes hold some of it resident.
    by_mapping: BTreeMap<String, (u64, usize)>,
}

/// Lets `child` idle for [`IDLE`], reads the memory of it and every process under it, and stops
/// it, whatever the outcome.
fn idle(mut child: Child) -> anyhow::Result<Idle> {
    std::thread::sleep(IDLE);
    let memory = read_tree(&mut child);
    stop(&mut child);
    memory
}

/// The memory of a still running `child` and every process under it.
fn read_tree(child: &mut Child) -> anyhow::Result<Idle> {
    anyhow::ensure!(child.try_wait()?.is_none(), "the program exited while idling");
    let pids = tree(child.id());
    let mut memory = Idle { processes: pids.len(), rss: 0, pss: 0, by_mapping: BTreeMap::new() };
    for &pid in &pids {
        let (rss, pss) = rollup(pid);
        memory.rss += rss;
        memory.pss += pss;
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
        for (name, bytes) in rss_by_mapping(&smaps) {
            let entry = memory.by_mapping.entry(name).or_default();
            entry.0 += bytes;
            entry.1 += 1;
        }
    }
    Ok(memory)
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

/// (RSS, PSS) in bytes, from `smaps_rollup`: the only source of PSS.
fn rollup(pid: u32) -> (u64, u64) {
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

/// The app's idle RSS by what is mapped, largest first, beside the baseline's: the app's first
/// [`BREAKDOWN_ROWS`] mappings by name, with how many of its processes hold some of each
/// resident, then everything else as one row.
fn breakdown(app: &Idle, baseline: &Idle) -> Value {
    let mut rows: Vec<(&String, &(u64, usize))> = app.by_mapping.iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    let in_baseline = |name: &str| baseline.by_mapping.get(name).map_or(0, |(bytes, _)| *bytes);
    let named = &rows[..rows.len().min(BREAKDOWN_ROWS)];
    let mut out: Vec<Value> = named
        .iter()
        .map(|(name, (bytes, processes))| json!({ "mapping": name, "rss_bytes": bytes, "processes": processes, "baseline_rss_bytes": in_baseline(name) }))
        .collect();
    let rest: u64 = rows[named.len()..].iter().map(|(_, (bytes, _))| bytes).sum();
    let baseline_rest: u64 = baseline.by_mapping.iter().filter(|(name, _)| !named.iter().any(|(n, _)| n == name)).map(|(_, (bytes, _))| bytes).sum();
    out.push(json!({ "mapping": "everything else", "rss_bytes": rest, "baseline_rss_bytes": baseline_rest }));
    Value::from(out)
}

/// RSS in bytes per mapped thing in one process's `/proc/PID/smaps`: a file by its name, and every
/// mapping without a file (heap, stacks, anonymous memory) as `anonymous`. Only mappings with
/// pages resident are listed.
fn rss_by_mapping(smaps: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.ends_with(':') {
            if first == "Rss:"
                && let (Some(name), Some(kb)) = (&current, fields.next().and_then(|kb| kb.parse::<u64>().ok()))
                && kb > 0
            {
                *out.entry(name.clone()).or_default() += kb * 1024;
            }
            continue;
        }
        // A mapping's header: range, permissions, offset, device, inode, then the path if any
        // (which may contain spaces).
        let path = line.splitn(6, char::is_whitespace).nth(5).map(str::trim).unwrap_or("");
        current = Some(match path {
            "" => "anonymous".to_owned(),
            p if p.starts_with('[') && p != "[vdso]" && p != "[vvar]" => "anonymous".to_owned(),
            p => Path::new(p).file_name().map_or_else(|| p.to_owned(), |n| n.to_string_lossy().into_owned()),
        });
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_rss_is_summed_per_mapped_file_and_anonymous_memory_together() {
        let smaps = "\
7f00-7f10 r-xp 00000000 fe:01 123  /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Size:                 64 kB
Rss:                  40 kB
7f10-7f20 rw-p 00010000 fe:01 123  /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Rss:                   8 kB
5500-5600 rw-p 00000000 00:00 0  [heap]
Rss:                 100 kB
7f30-7f40 rw-p 00000000 00:00 0 
Rss:                  12 kB
7f40-7f50 r--p 00000000 00:01 9  /memfd:WebKitSharedMemory (deleted)
Rss:                   4 kB
7f50-7f60 r--p 00000000 fe:01 77  /usr/lib/libnothing.so
Rss:                   0 kB
";
        let got = rss_by_mapping(smaps);
        let want: BTreeMap<String, u64> = [("libLLVM-15.so.1", 48 * 1024), ("anonymous", 112 * 1024), ("memfd:WebKitSharedMemory (deleted)", 4 * 1024)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_breakdown_names_the_apps_largest_mappings_beside_the_baselines_and_sums_the_rest() {
        let idle = |rows: &[(&str, u64)]| Idle {
            processes: 3,
            rss: rows.iter().map(|(_, bytes)| bytes).sum(),
            pss: 0,
            by_mapping: rows.iter().map(|(name, bytes)| ((*name).to_owned(), (*bytes, 2))).collect(),
        };
        let many: Vec<(String, u64)> = (0..BREAKDOWN_ROWS as u64).map(|i| (format!("lib{i}.so"), 1_000 + i)).collect();
        let mut app: Vec<(&str, u64)> = many.iter().map(|(name, bytes)| (name.as_str(), *bytes)).collect();
        app.extend([("anonymous", 50_000), ("small.so", 10)]);
        // The baseline has the app's largest mapping, not its smallest, and one the app lacks.
        let baseline = idle(&[("anonymous", 30_000), ("small.so", 7), ("MiniBrowser", 5)]);
        let rows = breakdown(&idle(&app), &baseline);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), BREAKDOWN_ROWS + 1);
        assert_eq!(rows[0], json!({ "mapping": "anonymous", "rss_bytes": 50_000, "processes": 2, "baseline_rss_bytes": 30_000 }));
        assert_eq!(rows[1]["mapping"], "lib9.so");
        assert_eq!(rows[1]["baseline_rss_bytes"], 0);
        assert_eq!(rows[BREAKDOWN_ROWS], json!({ "mapping": "everything else", "rss_bytes": 1_000 + 10, "baseline_rss_bytes": 7 + 5 }));
    }
}
