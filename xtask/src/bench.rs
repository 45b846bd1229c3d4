//! `cargo xtask bench`: builds release binaries, runs every benchmark against them on loopback, and
//! writes the figures to BENCHMARKS.md together with the command, the date and the machine.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use crate::shell::{self, cargo, root};

pub fn run() -> anyhow::Result<()> {
    crate::setup::all()?;
    crate::setup::system_packages(crate::setup::BENCH_PACKAGES)?;
    shell::run(cargo().args(["build", "--release", "-p", "market", "-p", "bench", "-p", "device"]))?;
    shell::run(crate::shell::npm().args(["run", "build"]))?;
    let orders = bench(&["orders", "--seconds", "10", "--rate", "1000", "--connections", "64"])?;
    let page = bench(&["page"])?;
    let sync = bench(&["sync", "--changes", "10000", "--rural-changes", "1000"])?;
    let soak = soak()?;
    let fanout = [live_fanout(Placement::Pinned)?, live_fanout(Placement::Shared)?];
    let glass = glass_to_glass()?;
    let photo = bench(&["photo", "--runs", "7"])?;
    let app = crate::app_bench::measure()?;
    let mut report = report(&orders, &page);
    report.push_str(&sync_report(&sync, &soak));
    report.push_str(&live_report(&fanout, &glass));
    report.push_str(&photo_report(&photo));
    report.push_str(&app_report(&app));
    std::fs::write(root().join("BENCHMARKS.md"), &report).context("writing BENCHMARKS.md")?;
    println!("{report}");
    Ok(())
}

fn bench(args: &[&str]) -> anyhow::Result<Value> {
    let output = Command::new(root().join("target/release/fieldcast-bench"))
        .args(args)
        .arg("--server-bin")
        .arg(root().join("target/release/fieldcast-market"))
        .current_dir(root())
        .output()
        .context("running fieldcast-bench")?;
    anyhow::ensure!(output.status.success(), "fieldcast-bench {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(serde_json::from_slice(&output.stdout)?)
}

const FANOUT_ARGS: [&str; 5] = ["live", "--viewers", "0,10,50,200", "--seconds", "15"];

/// Where the fan-out run puts the server and the viewers on this machine's two cores.
#[derive(Clone, Copy)]
enum Placement {
    /// The server alone on core 1, the viewers on core 0: no sharing, but the server's core idles
    /// between packets, and waking an idle virtual CPU is expensive.
    Pinned,
    /// Both free to use both cores, as they would be on a busy server.
    Shared,
}

impl Placement {
    /// The name of its file of runs.
    fn name(self) -> &'static str {
        match self {
            Placement::Pinned => "pinned",
            Placement::Shared => "shared",
        }
    }

    /// What the report calls it.
    fn description(self) -> &'static str {
        match self {
            Placement::Pinned => "server alone on core 1, viewers on core 0 (`taskset`)",
            Placement::Shared => "server and viewers sharing both cores",
        }
    }
}

/// Runs of the fan-out per placement. One run's figures differ from the next one's by a tenth or
/// more on this machine, and now and then by half or more (eight runs within an hour gave 12.1 to
/// 27.6 µs at 10 viewers), which is as much as the distance to the target, so each row is the
/// median of several runs.
const FANOUT_ROUNDS: usize = 3;

/// The relay's fan-out per placement, so the figure's dependence on it is visible: each row is
/// the median of [`FANOUT_ROUNDS`] runs (see [`median_rows`]).
fn live_fanout(placement: Placement) -> anyhow::Result<Value> {
    let rounds = (0..FANOUT_ROUNDS).map(|_| live_fanout_once(placement)).collect::<anyhow::Result<Vec<_>>>()?;
    // Every run as measured, for a look behind the medians.
    let raw = root().join("target/bench").join(format!("live-{}.json", placement.name()));
    std::fs::create_dir_all(raw.parent().context("a parent")?)?;
    std::fs::write(&raw, serde_json::to_string_pretty(&rounds)?).with_context(|| format!("writing {}", raw.display()))?;
    let mut value = rounds[0].clone();
    value["runs"] = Value::from(median_rows(&rounds, "runs", "server_cpu_us_per_packet", "server_cpu_us_per_datagram_in"));
    value["floor"] = Value::from(median_rows(&rounds, "floor", "cpu_us_per_packet", "cpu_us_per_datagram_in"));
    value["rounds"] = Value::from(rounds.len());
    Ok(value)
}

/// For each viewer count of `list` in the rounds, the row whose `key` (with no viewers,
/// `key_alone`, as nothing is forwarded) is the median, whole, so that the figures of a row come
/// from one run. It gains `range`, the lowest and the highest `key` of all the rounds, and
/// `lost_in_all_runs`, so that a loss in a run that was not the median is not hidden.
fn median_rows(rounds: &[Value], list: &str, key: &str, key_alone: &str) -> Vec<Value> {
    let rows = || rounds.iter().flat_map(|round| round[list].as_array().into_iter().flatten());
    let mut counts: Vec<u64> = rows().filter_map(|row| row["viewers"].as_u64()).collect();
    counts.sort_unstable();
    counts.dedup();
    counts
        .into_iter()
        .filter_map(|viewers| {
            let key = if viewers == 0 { key_alone } else { key };
            let figure = |row: &Value| row[key].as_f64().unwrap_or(f64::NAN);
            let mut same: Vec<&Value> = rows().filter(|row| row["viewers"].as_u64() == Some(viewers)).collect();
            same.sort_by(|a, b| figure(a).total_cmp(&figure(b)));
            // With an even number of rounds, the lower of the middle two: a row that was measured.
            let mut median = (*same.get((same.len() - 1) / 2)?).clone();
            median["range"] = Value::from(vec![figure(same.first()?), figure(same.last()?)]);
            median["lost_in_all_runs"] = Value::from(same.iter().filter_map(|row| row["packets_lost"].as_u64()).sum::<u64>());
            Some(median)
        })
        .collect()
}

/// One run of the fan-out.
fn live_fanout_once(placement: Placement) -> anyhow::Result<Value> {
    let bench = root().join("target/release/fieldcast-bench");
    let mut command = match placement {
        Placement::Pinned => {
            let mut command = Command::new("taskset");
            command.args(["-c", "0"]).arg(bench).env("FIELDCAST_BENCH_SERVER_CPUS", "1");
            command
        }
        Placement::Shared => Command::new(bench),
    };
    let output = command
        .args(FANOUT_ARGS)
        .arg("--server-bin")
        .arg(root().join("target/release/fieldcast-market"))
        .current_dir(root())
        .output()
        .context("running fieldcast-bench live (pinning needs taskset, from util-linux)")?;
    anyhow::ensure!(output.status.success(), "fieldcast-bench live failed: {}", String::from_utf8_lossy(&output.stderr));
    let mut value: Value = serde_json::from_slice(&output.stdout)?;
    value["placement"] = Value::from(placement.description());
    Ok(value)
}

const GLASS_SECONDS: &str = "20";

/// Glass-to-glass delay in Chromium: the farmer's Go Live screen to the buyer's live page.
fn glass_to_glass() -> anyhow::Result<Value> {
    let output = Command::new("node")
        .args(["glass-to-glass.mjs", "--seconds", GLASS_SECONDS])
        .current_dir(root().join("tests/browser"))
        .env("FIELDCAST_MARKET_BIN", root().join("target/release/fieldcast-market"))
        .env("FIELDCAST_DEVICE_BIN", root().join("target/release/fieldcast-device"))
        .env("FIELDCAST_UI_DIST", root().join("ui/dist"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running tests/browser/glass-to-glass.mjs")?;
    anyhow::ensure!(output.status.success(), "the glass-to-glass run failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).context("no JSON line from glass-to-glass.mjs")?;
    Ok(serde_json::from_str(line)?)
}

/// The lowest and highest figure of the runs a median row was chosen from, as " (low–high)".
fn range(row: &Value, decimals: usize) -> String {
    match row["range"].as_array().map(|r| r.iter().filter_map(Value::as_f64).collect::<Vec<_>>()).as_deref() {
        Some([low, high]) => format!(" ({low:.decimals$}–{high:.decimals$})"),
        _ => String::new(),
    }
}

/// The floor forwarder's median row with `viewers` viewers, from the same placement's runs.
fn floor_run(fanout: &Value, viewers: u64) -> Option<&Value> {
    fanout["floor"].as_array()?.iter().find(|run| run["viewers"].as_u64() == Some(viewers))
}

/// Every run of every placement, with the placement's fan-out it belongs to.
fn fanout_runs(fanouts: &[Value]) -> impl Iterator<Item = (&Value, &Value)> {
    fanouts.iter().flat_map(|fanout| fanout["runs"].as_array().into_iter().flatten().map(move |run| (fanout, run)))
}

fn live_report(fanouts: &[Value], glass: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut out = String::new();
    let Some(first) = fanouts.first() else { return out };
    let _ = writeln!(out, "\n## Live fan-out (`fieldcast-bench {}`)\n", FANOUT_ARGS.join(" "));
    let _ = writeln!(out, "One synthetic camera ({}) publishing over WHIP to the release server, N viewers over WHEP that", first["camera"].as_str().unwrap_or(""));
    let _ = writeln!(out, "count RTP without decoding; {} s per row. CPU is the server process's own (the scheduler's", first["window_seconds"]);
    let _ = writeln!(out, "nanoseconds per thread, `/proc/PID/task/*/schedstat`, all of it: RTCP, consent checks, timers)");
    let _ = writeln!(out, "divided by the packets it forwarded. Memory is the");
    let _ = writeln!(out, "growth of its RSS over the camera-only baseline, per viewer. The row with no viewers is the camera");
    let _ = writeln!(out, "alone: what receiving its packets costs. Targets: ≤ 8 µs per forwarded packet, ≤ 1 MB per viewer.");
    let _ = writeln!(out, "The \"floor\" columns are measured in the same run with the same camera pacing, viewer counts and");
    let _ = writeln!(out, "placement: a process with the relay's I/O (`epoll_wait(2)`, `recvmmsg(2)`, the relay's own `sendmmsg(2)`");
    let _ = writeln!(out, "sender with UDP GSO) and the SRTP each forwarded packet needs (the camera's packet decrypted once and");
    let _ = writeln!(out, "encrypted again for each viewer, AES-256-GCM through the relay's own SRTP), and no other WebRTC (no ICE, DTLS,");
    let _ = writeln!(out, "RTCP, retransmission history or timers): the issue's physical floor, one SRTP operation and one UDP");
    let _ = writeln!(out, "send per packet, measured instead of estimated; see `crates/bench/src/floor.rs`.");
    let _ = writeln!(out, "Each placement ran {} times; a row is the run whose figure (per packet, or per datagram in with no", first["rounds"].as_u64().unwrap_or(1));
    let _ = writeln!(out, "viewers) was the median, with the lowest and highest of the runs in brackets; \"in all runs\" after a");
    let _ = writeln!(out, "loss counts the packets the other runs lost too. Every run as measured: `target/bench/live-*.json`.\n");
    let _ = writeln!(
        out,
        "| placement | viewers | packets forwarded/s | server CPU per packet | floor (I/O + SRTP) per packet | server cores | memory per viewer | lost | datagrams in/s | CPU per datagram in | floor per camera datagram, no viewers |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    let runs = || fanout_runs(fanouts);
    for (fanout, run) in runs() {
        let viewers = run["viewers"].as_u64().unwrap_or(0);
        let floor = floor_run(fanout, viewers);
        let (per_packet, floor_per_packet, memory) = if viewers == 0 {
            ("—".to_owned(), "—".to_owned(), "—".to_owned())
        } else {
            (
                format!("**{:.1} µs**{}", f(&run["server_cpu_us_per_packet"]), range(run, 1)),
                // A packet the forwarder lost raises its figure (CPU over packets delivered), so
                // the cell says so.
                floor.map_or("—".to_owned(), |fl| match fl["packets_lost"].as_u64().unwrap_or(0) {
                    0 => format!("{:.1} µs{}", f(&fl["cpu_us_per_packet"]), range(fl, 1)),
                    lost => format!("{:.1} µs{} ({lost} lost)", f(&fl["cpu_us_per_packet"]), range(fl, 1)),
                }),
                format!("{:.0} KB", f(&run["memory_per_viewer_bytes"]) / 1000.0),
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {:.3} | {} | {} ({:.2} %){} | {:.0} | {:.0} µs{} | {} |",
            fanout["placement"].as_str().unwrap_or(""),
            viewers,
            f(&run["packets_per_second"]),
            per_packet,
            floor_per_packet,
            f(&run["server_cpu_cores"]),
            memory,
            run["packets_lost"],
            f(&run["loss_percent"]),
            match (run["packets_lost"].as_u64(), run["lost_in_all_runs"].as_u64()) {
                (Some(lost), Some(all)) if all > lost => format!("; {all} in all runs"),
                _ => String::new(),
            },
            f(&run["datagrams_in_per_second"]),
            f(&run["server_cpu_us_per_datagram_in"]),
            if viewers == 0 { range(run, 0) } else { String::new() },
            // With viewers, the relay's datagrams in include their feedback and the forwarder's
            // have none, so only the camera-alone row compares like with like.
            floor.filter(|_| viewers == 0).map_or("—".to_owned(), |fl| format!("{:.0} µs{}", f(&fl["cpu_us_per_datagram_in"]), range(fl, 0))),
        );
    }
    let _ = writeln!(out);
    let with_viewers = || runs().filter(|(_, run)| run["viewers"].as_u64().unwrap_or(0) > 0);
    let failing: Vec<String> = with_viewers()
        .filter(|(_, run)| f(&run["server_cpu_us_per_packet"]) > 8.0)
        .map(|(fanout, run)| format!("{} viewers, {} ({:.1} µs)", run["viewers"], fanout["placement"].as_str().unwrap_or(""), f(&run["server_cpu_us_per_packet"])))
        .collect();
    let verdict = if failing.is_empty() {
        "**The ≤ 8 µs target is met in every row.**".to_owned()
    } else {
        format!("**The ≤ 8 µs target is not met in these rows: {}.**", failing.join("; "))
    };
    let _ = writeln!(out, "{verdict}\n");
    for fanout in fanouts {
        let placement = fanout["placement"].as_str().unwrap_or("");
        // What one more forwarded packet costs, from the rows with the fewest and the most
        // viewers: the part of the cost that scales with the audience. Each is a median row, so
        // the two may come from different runs.
        let rows: Vec<&Value> = fanout["runs"].as_array().into_iter().flatten().filter(|r| r["viewers"].as_u64().unwrap_or(0) > 0).collect();
        if let (Some(low), Some(high)) = (rows.first(), rows.last())
            && f(&high["packets_per_second"]) > f(&low["packets_per_second"])
        {
            let marginal = (f(&high["server_cpu_cores"]) - f(&low["server_cpu_cores"])) * 1e6 / (f(&high["packets_per_second"]) - f(&low["packets_per_second"]));
            let _ = writeln!(
                out,
                "- {placement}: one more forwarded packet costs {marginal:.1} µs (the CPU difference between {} and {} viewers over the difference in packets).",
                low["viewers"], high["viewers"],
            );
        }
        let split: Vec<String> = rows
            .iter()
            .filter_map(|run| {
                let floor = floor_run(fanout, run["viewers"].as_u64()?)?;
                let (relay, at_floor) = (f(&run["server_cpu_us_per_packet"]), f(&floor["cpu_us_per_packet"]));
                Some(format!("{} viewers {at_floor:.1} + {:.1} µs", run["viewers"], relay - at_floor))
            })
            .collect();
        if !split.is_empty() {
            let _ = writeln!(out, "- {placement}, the relay's figure as the floor's plus the rest of its WebRTC work: {}.", split.join(", "));
        }
    }
    wakeup_table(&mut out, fanouts);
    for line in [
        "",
        "The relay's media path is its own (`crates/relay/src/transport`: ICE-lite, DTLS through str0m's",
        "provider, SRTP, RTCP and congestion feedback); str0m 0.25 only negotiates the SDP. Before, str0m",
        "carried the media too (until 2026-11-23: 13.3 µs pinned for 10 viewers, 8.8 for 50, 7.5 for 200),",
        "and before it the webrtc-rs `rtc` 0.21 crate (until 2026-11-22: 14.9 µs pinned and 15.8 µs shared",
        "for 200 viewers, 27 µs for 10). Its thread blocks in `epoll_wait(2)` and sends each pass's datagrams with",
        "one `sendmmsg(2)`, a viewer's packets of one flush as one message the kernel segments (UDP GSO). The",
        "floor's forwarder does the same I/O and the same SRTP and nothing else, so its figure is what the",
        "kernel (the send, and the loopback delivery into each viewer's socket, which is charged to the",
        "sender), the thread's wake-ups and the packets' encryption cost on this machine; the relay's figure",
        "above it is the rest of its WebRTC work: each packet rewritten for each viewer and kept for",
        "retransmission, the camera's NACKs, receiver reports and congestion feedback, the viewers' RTCP and",
        "consent checks (the floor's viewers send nothing; the relay's send about two datagrams a second",
        "each, and at a few viewers most of them wake the thread on their own: the wake-up table), and",
        "timers. Both shrink per packet as the audience grows, because a wake-up of the thread costs about",
        "the same however many packets it then sends.",
    ] {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n## Glass-to-glass delay (`node tests/browser/glass-to-glass.mjs --seconds {GLASS_SECONDS}`)\n");
    let _ = writeln!(out, "Headless Chromium: the farmer's Go Live screen publishes a 640×360 canvas that shows the wall-clock");
    let _ = writeln!(out, "millisecond it was drawn as blocks; the buyer's live page plays it through the release server's relay,");
    let _ = writeln!(out, "and for every presented frame (`requestVideoFrameCallback`) the blocks are read back and compared with");
    let _ = writeln!(out, "the frame's expected display time. Loopback, so no network delay is in it. Target: median ≤ 300 ms.\n");
    let _ = writeln!(out, "| frames read | unreadable | median | p95 | min | max |\n|---|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| {} | {} | **{} ms** | {} ms | {} ms | {} ms |",
        glass["samples"], glass["skipped"], glass["median_ms"], glass["p95_ms"], glass["min_ms"], glass["max_ms"]
    );
    out
}

/// Wake-ups per second and CPU per wake-up beside the floor's, for the rows above: a pass of an
/// event loop costs about the same whatever it then carries, so where few packets go out per
/// wake-up, this is most of the figure per packet.
fn wakeup_table(out: &mut String, fanouts: &[Value]) {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let runs = || fanout_runs(fanouts);
    // Runs from before the bench counted wake-ups have none to show.
    if !runs().any(|(_, run)| run["wakeups_per_second"].is_number()) {
        return;
    }
    let _ = writeln!(out, "\nWake-ups (threads woken from a wait, `voluntary_ctxt_switches` in `/proc/PID/task/*/status`), same rows:\n");
    let _ = writeln!(out, "| placement | viewers | server wake-ups/s | server CPU per wake-up | packets forwarded per wake-up | floor wake-ups/s | floor CPU per wake-up |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (fanout, run) in runs() {
        let viewers = run["viewers"].as_u64().unwrap_or(0);
        let floor = floor_run(fanout, viewers).filter(|fl| fl["wakeups_per_second"].is_number());
        let _ = writeln!(
            out,
            "| {} | {viewers} | {:.0} | {:.0} µs | {:.1} | {} | {} |",
            fanout["placement"].as_str().unwrap_or(""),
            f(&run["wakeups_per_second"]),
            f(&run["server_cpu_us_per_wakeup"]),
            f(&run["packets_per_second"]) / f(&run["wakeups_per_second"]).max(1e-9),
            floor.map_or("—".to_owned(), |fl| format!("{:.0}", f(&fl["wakeups_per_second"]))),
            floor.map_or("—".to_owned(), |fl| format!("{:.0} µs", f(&fl["cpu_us_per_wakeup"]))),
        );
    }
}

/// The sync simulation over many more seeds than the test command runs.
struct Soak {
    seeds: u64,
    seconds: f64,
}

const SOAK_SEEDS: u64 = 20_000;

fn soak() -> anyhow::Result<Soak> {
    let started = std::time::Instant::now();
    shell::run(
        cargo()
            .args(["test", "--release", "-p", "sync-engine", "--test", "simulation", "seeded_runs"])
            .env("FIELDCAST_SIM_SEEDS", SOAK_SEEDS.to_string()),
    )?;
    Ok(Soak { seeds: SOAK_SEEDS, seconds: started.elapsed().as_secs_f64() })
}

fn sync_report(sync: &Value, soak: &Soak) -> String {
    let day = &sync["offline_day"];
    let fresh = &sync["new_device"];
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut out = String::new();
    let _ = writeln!(out, "\n## Sync (`fieldcast-bench sync --changes 10000 --rural-changes 1000`)\n");
    let _ = writeln!(out, "The real sync driver (engine, HTTP with gzip pushes, store writes with `synchronous=FULL`) against the");
    let _ = writeln!(out, "release server, through the fault proxy (clean for the loopback rows, shaped for the rural one).");
    let _ = writeln!(out, "Targets: 10,000 changes pushed in ≤ 2 s and 10,000 orders pulled in ≤ 2 s; the rural link under 60 s.\n");
    let _ = writeln!(out, "| run | items | seconds | per second | bytes per change |\n|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| a day offline: push of queued offline sales | {} | **{:.2}** | {:.0} | {:.1} up, {:.1} down |",
        day["changes"],
        f(&day["push_seconds"]),
        f(&day["changes_per_second"]),
        f(&day["bytes_up_per_change"]),
        f(&day["bytes_down_per_change"]),
    );
    let _ = writeln!(out, "| then the pull of the orders they made | {} | **{:.2}** | {:.0} | |", day["orders_pulled"], f(&day["pull_seconds"]), f(&day["orders_per_second"]));
    let _ = writeln!(
        out,
        "| a new device pulls them from nothing | {} | **{:.2}** | {:.0} | {:.1} down per order |",
        fresh["orders"],
        f(&fresh["seconds"]),
        f(&fresh["orders_per_second"]),
        f(&fresh["bytes_down"]) / f(&fresh["orders"]).max(1.0),
    );
    for rural in [&sync["rural"], &sync["rural_harsh"]] {
        let _ = writeln!(
            out,
            "| rural link ({}): until all are acknowledged | {} | **{:.1}** | {:.0} | {} connections, {} cut |",
            rural["link"].as_str().unwrap_or(""),
            rural["changes"],
            f(&rural["seconds_to_acknowledged"]),
            f(&rural["changes"]) / f(&rural["seconds_to_acknowledged"]).max(0.001),
            rural["connections"],
            rural["cut"],
        );
    }
    let _ = writeln!(out, "\nSimulation soak: `FIELDCAST_SIM_SEEDS={} cargo test --release -p sync-engine --test simulation` ran {} seeded", soak.seeds, soak.seeds);
    let _ = writeln!(out, "runs of 3,000 steps (3 devices, crashes, drops, duplicates, reorders) in {:.0} s; every invariant held.", soak.seconds);
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| info.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned()))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or_else(String::new, |kb| format!(", {} GiB", kb / 1024 / 1024));
    format!("{cores} cores ({cpu}){memory}")
}

fn date() -> String {
    Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC").output().map_or_else(|_| "unknown date".into(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn app_report(app: &Value) -> String {
    let mut out = String::new();
    let mb = |v: &Value| v.as_f64().unwrap_or(0.0) / 1e6;
    let _ = writeln!(out, "\n## The app (`tauri build --ci --no-bundle -- --profile app`, then under Xvfb)\n");
    let _ = writeln!(out, "Targets: binary ≤ 15 MB; cold start to the first screen painted ≤ 1.5 s; idle memory after a");
    let _ = writeln!(out, "minute ≤ 150 MB RSS, webview processes included.\n");
    let _ = writeln!(out, "| figure | value |\n|---|---|");
    let _ = writeln!(out, "| app binary `target/app/fieldcast-app` (the `app` profile: size first, stripped) | **{:.1} MB** ({} bytes) |", mb(&app["binary_bytes"]), app["binary_bytes"]);
    let _ = writeln!(
        out,
        "| cold start to first screen painted (spawn → the front end's report two frames after its first render; fresh data dir; median of {}) | **{} ms** (all: {}) |",
        app["cold_start_ms"].as_array().map_or(0, Vec::len),
        app["cold_start_median_ms"].as_f64().unwrap_or(0.0).round(),
        app["cold_start_ms"].as_array().into_iter().flatten().map(|v| format!("{:.0}", v.as_f64().unwrap_or(0.0))).collect::<Vec<_>>().join(", "),
    );
    let _ = writeln!(
        out,
        "| memory after {} s idle, {} processes (app + WebKit) | **{:.0} MB RSS** summed ({:.0} MB PSS: shared pages counted once) |",
        app["idle_seconds"],
        app["processes"],
        mb(&app["idle_rss_bytes"]),
        mb(&app["idle_pss_bytes"]),
    );
    let baseline = &app["baseline"];
    let _ = writeln!(
        out,
        "| the same of WebKitGTK's own example browser showing a blank page (`{}` {}; same display, same idle time), {} processes | {:.0} MB RSS ({:.0} MB PSS) |",
        baseline["program"].as_str().unwrap_or(""),
        baseline["page"].as_str().unwrap_or(""),
        baseline["processes"],
        mb(&baseline["idle_rss_bytes"]),
        mb(&baseline["idle_pss_bytes"]),
    );
    let _ = writeln!(
        out,
        "\nUnder Xvfb there is no GPU: the app has WebKitGTK paint with Skia on the CPU (its default since 2026-11-22;\n\
         before that GPU painting on Mesa's software GL measured 488 MB RSS / 304 MB PSS), and composition runs on\n\
         Mesa's software GL (llvmpipe), whose libLLVM is resident in both the app and the web process. The example\n\
         browser, given the same painting setting, shows what WebKitGTK itself holds on this machine with nothing\n\
         on the page: the app holds {:.0} MB RSS ({:.0} MB PSS) more than that.",
        mb(&app["idle_rss_bytes"]) - mb(&baseline["idle_rss_bytes"]),
        mb(&app["idle_pss_bytes"]) - mb(&baseline["idle_pss_bytes"]),
    );
    let _ = writeln!(out, "\nWhere the idle RSS is, summed over the processes, largest first (from `/proc/PID/smaps` in the same run;");
    let _ = writeln!(out, "`anonymous` is heaps, stacks, the JavaScript heap and buffers; `fieldcast-app` is the app's own code):\n");
    let _ = writeln!(out, "| mapped | the app | app processes with it resident | the example browser, blank page |\n|---|---|---|---|");
    for row in app["idle_rss_by_mapping"].as_array().into_iter().flatten() {
        let processes = row["processes"].as_u64().map_or_else(String::new, |n| n.to_string());
        let _ = writeln!(
            out,
            "| `{}` | {:.1} MB | {} | {:.1} MB |",
            row["mapping"].as_str().unwrap_or(""),
            mb(&row["rss_bytes"]),
            processes,
            mb(&row["baseline_rss_bytes"]),
        );
    }
    out
}

fn photo_report(photo: &Value) -> String {
    let mut out = String::new();
    let (ours, vips) = (&photo["ours"], &photo["vipsthumbnail"]);
    let _ = writeln!(out, "\n## Listing photo pipeline (`fieldcast-bench photo --runs 7`)\n");
    let _ = writeln!(out, "Input: {}, {} bytes. Both make a 1280 px photo and a 320 px thumbnail at JPEG quality 80 with", photo["input"].as_str().unwrap_or(""), photo["input_bytes"]);
    let _ = writeln!(out, "metadata stripped; ours is the `photo` crate's library call (decode, EXIF orientation, resize, encode");
    let _ = writeln!(out, "4:2:0 with fitted Huffman tables), vipsthumbnail is run as two commands (`--size 1280x1280 -o full.jpg[Q=80,strip]`,");
    let _ = writeln!(out, "then 320). Targets: ≤ 1.5× vipsthumbnail's time, no larger output, 1280 px ≤ 150 KB, thumbnail ≤ 20 KB.\n");
    let _ = writeln!(out, "| tool | median | min | 1280 px | thumbnail |\n|---|---|---|---|---|");
    for (name, tool) in [("photo crate (ours)", ours), ("vipsthumbnail", vips)] {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} B ({}) | {} B |",
            ms(&tool["median_ms"]),
            ms(&tool["min_ms"]),
            tool["full_bytes"],
            tool["full_size"].as_str().unwrap_or(""),
            tool["thumb_bytes"],
        );
    }
    let _ = writeln!(
        out,
        "\nTime ratio ours / vipsthumbnail: **{:.2}×**. vipsthumbnail's process start-up (the same two commands on a",
        photo["time_ratio"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        out,
        "16×16 image) took {}; without it the ratio is **{:.2}×**.",
        ms(&photo["vips_startup_ms"]),
        photo["time_ratio_without_startup"].as_f64().unwrap_or(0.0)
    );
    out
}

fn ms(value: &Value) -> String {
    format!("{:.2} ms", value.as_f64().unwrap_or(0.0))
}

fn report(orders: &Value, page: &Value) -> String {
    let closed = &orders["closed_loop"];
    let open = &orders["open_loop"];
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(out, "Made by `cargo xtask bench` on {}, {}. Release builds; the server and the load generator", date(), machine());
    let _ = writeln!(out, "share the machine and talk over loopback. Re-run the command to refresh this file.\n");
    let _ = writeln!(out, "## Buyer order placement (`fieldcast-bench orders --seconds 10 --rate 1000 --connections 64`)\n");
    let _ = writeln!(out, "`POST /api/v1/orders` with a fresh Idempotency-Key each, one unit of a listing with ample stock:");
    let _ = writeln!(out, "stock reservation, the order, its lines and the key in one transaction, fsynced (`synchronous=FULL`)");
    let _ = writeln!(out, "before the 201. Targets: ≥ 3,000 orders/s sustained; p99 ≤ 20 ms at 1,000 orders/s offered.\n");
    let _ = writeln!(out, "| run | orders/s | p50 | p90 | p99 | max | failures | server CPU (cores) | writes per fsync |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| closed loop, {} connections | **{:.0}** | {} | {} | {} | {} | {} | {:.2} | {:.1} |",
        closed["connections"],
        closed["orders_per_second"].as_f64().unwrap_or(0.0),
        ms(&closed["latency"]["p50_ms"]),
        ms(&closed["latency"]["p90_ms"]),
        ms(&closed["latency"]["p99_ms"]),
        ms(&closed["latency"]["max_ms"]),
        closed["failures"],
        closed["server_cpu_cores"].as_f64().unwrap_or(0.0),
        closed["writes_per_commit"].as_f64().unwrap_or(0.0),
    );
    let _ = writeln!(
        out,
        "| open loop, {} offered/s | {:.0} | {} | {} | **{}** | {} | {} | {:.2} | {:.1} |",
        open["offered_per_second"],
        open["achieved_per_second"].as_f64().unwrap_or(0.0),
        ms(&open["latency"]["p50_ms"]),
        ms(&open["latency"]["p90_ms"]),
        ms(&open["latency"]["p99_ms"]),
        ms(&open["latency"]["max_ms"]),
        open["failures"],
        open["server_cpu_cores"].as_f64().unwrap_or(0.0),
        open["writes_per_commit"].as_f64().unwrap_or(0.0),
    );
    let _ = writeln!(out, "\nOpen-loop latency runs from each request's scheduled start, so a stall counts against every order it");
    let _ = writeln!(out, "delays. Machine load average after the runs: `{}`. Server RSS after: {:.1} MiB.\n", orders["load_average_after"].as_str().unwrap_or(""), orders["server_rss_bytes_after"].as_f64().unwrap_or(0.0) / 1048576.0);
    let _ = writeln!(out, "## Order link page (`fieldcast-bench page`)\n");
    let _ = writeln!(out, "The page and everything it loads except the photo, fetched with `Accept-Encoding: br, gzip`. Target: ≤ 60 KB.\n");
    let _ = writeln!(out, "| resource | encoding | body bytes | header bytes |\n|---|---|---|---|");
    for resource in page["resources"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", resource["path"].as_str().unwrap_or(""), resource["encoding"].as_str().unwrap_or(""), resource["body_bytes"], resource["header_bytes"]);
    }
    let _ = writeln!(out, "| **total** | | {} | {} |", page["total_body_bytes"], page["total_header_bytes"]);
    let _ = writeln!(
        out,
        "\n**{:.1} KB** over the wire in all. Response time of the page over 300 requests: p50 {}, p99 {}.",
        page["total_bytes"].as_f64().unwrap_or(0.0) / 1000.0,
        ms(&page["response_time"]["p50_ms"]),
        ms(&page["response_time"]["p99_ms"]),
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_fan_out_row_stands_beside_the_floor_with_the_same_viewers() {
        let run = |viewers: u64, per_packet: f64, cores: f64, pps: f64| {
            json!({ "viewers": viewers, "server_cpu_us_per_packet": per_packet, "server_cpu_cores": cores, "packets_per_second": pps,
                    "memory_per_viewer_bytes": 300_000, "packets_lost": 0, "loss_percent": 0.0, "datagrams_in_per_second": 85.0,
                    "server_cpu_us_per_datagram_in": 40.0, "wakeups_per_second": 30.0, "server_cpu_us_per_wakeup": cores * 1e6 / 30.0 })
        };
        let floor = |viewers: u64, per_packet: f64| {
            json!({ "viewers": viewers, "cpu_us_per_packet": per_packet, "cpu_us_per_datagram_in": 12.0, "packets_lost": 0,
                    "wakeups_per_second": 16.0, "cpu_us_per_wakeup": 150.0 })
        };
        let mut median_of_three = run(10, 12.0, 0.0072, 600.0);
        median_of_three["range"] = json!([11.42, 12.66]);
        median_of_three["lost_in_all_runs"] = json!(7);
        let fanout = json!({
            "placement": "pinned", "camera": "500 kbit/s", "window_seconds": 15, "rounds": 3,
            "runs": [run(0, 0.0, 0.003, 0.0), median_of_three, run(50, 7.5, 0.0225, 3000.0), run(200, 6.5, 0.078, 12000.0)],
            "floor": [floor(0, 0.0), floor(10, 5.0), floor(50, 2.5), json!({ "viewers": 200, "cpu_us_per_packet": 2.2, "packets_lost": 3 })],
        });
        let report = live_report(&[fanout], &json!({}));

        assert!(report.contains("| pinned | 10 | 600 | **12.0 µs** (11.4–12.7) | 5.0 µs |"), "{report}");
        assert!(report.contains("Each placement ran 3 times"), "{report}");
        // A loss in a run other than the median one is shown beside the median's.
        assert!(report.contains("| 0 (0.00 %); 7 in all runs |"), "{report}");
        assert!(report.contains("| pinned | 50 | 3000 | **7.5 µs** | 2.5 µs |"), "{report}");
        assert!(report.contains("| pinned | 0 | 0 | — | — |"), "{report}");
        assert!(report.contains("| 85 | 40 µs | 12 µs |") && report.matches("| 85 | 40 µs | — |").count() == 3, "{report}");
        assert!(report.contains("not met in these rows: 10 viewers, pinned (12.0 µs)."), "{report}");
        assert!(report.contains("| pinned | 200 | 12000 | **6.5 µs** | 2.2 µs (3 lost) |"), "{report}");
        assert!(report.contains("10 viewers 5.0 + 7.0 µs, 50 viewers 2.5 + 5.0 µs, 200 viewers 2.2 + 4.3 µs"), "{report}");
        // (0.078 - 0.0072) cores over 11400 more packets a second.
        assert!(report.contains("one more forwarded packet costs 6.2 µs"), "{report}");
        // 0.0072 cores over 30 wake-ups a second, 600 packets over 30; the 200-viewer floor run
        // here counted no wake-ups.
        assert!(report.contains("| pinned | 10 | 30 | 240 µs | 20.0 | 16 | 150 µs |"), "{report}");
        assert!(report.contains("| pinned | 200 | 30 | 2600 µs | 400.0 | — | — |"), "{report}");
    }

    #[test]
    fn runs_without_wake_ups_get_no_wake_up_table() {
        let fanout = json!({ "placement": "pinned", "runs": [{ "viewers": 10, "server_cpu_us_per_packet": 9.0 }], "floor": [] });
        assert!(!live_report(&[fanout], &json!({})).contains("Wake-ups"));
    }

    #[test]
    fn a_row_of_several_runs_is_the_median_run_whole_with_the_range_beside_it() {
        let row = |viewers: u64, per_packet: f64, per_datagram: f64, lost: u64| {
            json!({ "viewers": viewers, "cpu_us_per_packet": per_packet, "cpu_us_per_datagram_in": per_datagram, "packets_lost": lost })
        };
        let rounds = [
            json!({ "floor": [row(0, 0.0, 15.0, 0), row(10, 5.5, 60.0, 0)] }),
            json!({ "floor": [row(0, 0.0, 9.0, 0), row(10, 15.2, 70.0, 4)] }),
            json!({ "floor": [row(0, 0.0, 12.0, 0), row(10, 4.7, 50.0, 1)] }),
        ];
        let rows = median_rows(&rounds, "floor", "cpu_us_per_packet", "cpu_us_per_datagram_in");

        assert_eq!(rows.len(), 2);
        // With no viewers nothing is forwarded: the median is by the figure per datagram in.
        assert_eq!(rows[0]["cpu_us_per_datagram_in"], 12.0);
        assert_eq!(rows[0]["range"], json!([9.0, 15.0]));
        // The median row is one run's, whole: its loss comes with its figure.
        assert_eq!(rows[1]["cpu_us_per_packet"], 5.5);
        assert_eq!(rows[1]["packets_lost"], 0);
        assert_eq!(rows[1]["range"], json!([4.7, 15.2]));
        assert_eq!(rows[1]["lost_in_all_runs"], 5);

        // Of two runs, the lower.
        let two = median_rows(&rounds[..2], "floor", "cpu_us_per_packet", "cpu_us_per_datagram_in");
        assert_eq!(two[1]["cpu_us_per_packet"], 5.5);
    }
}
