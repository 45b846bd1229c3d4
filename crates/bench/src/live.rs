//! Live fan-out: one camera at ~500 kbit/s and N viewers that count RTP (not decode), against the
//! real server process. For each N: the server's CPU time per forwarded packet (all of it: RTCP,
//! consent checks and timers included, divided by the packets forwarded), its memory per viewer,
//! and the packets the viewers did not get.
//!
//! The viewers run in this process on the same two cores; the CPU figure is the server's own
//! (from /proc), so it does not count theirs, but they compete for the cores and the caches.
//! Then the same counts go through the forwarder of `floor.rs`, the part of the figure that is
//! the kernel's, the wake-ups' and the packets' encryption.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use live_probe::{Media, Peer};
use serde::Serialize;
use serde_json::{Value, json};

use crate::floor::{self, FloorRun};
use crate::server::{Server, cpu_seconds, rss_bytes, wakeups};

#[derive(Debug, Serialize)]
pub struct Fanout {
    pub camera: String,
    pub window_seconds: u64,
    pub runs: Vec<FanoutRun>,
    /// The same camera and viewer counts through a UDP forwarder with the relay's I/O and SRTP.
    pub floor: Vec<FloorRun>,
}

#[derive(Debug, Serialize)]
pub struct FanoutRun {
    pub viewers: usize,
    pub forwarded_packets: u64,
    pub packets_per_second: f64,
    pub server_cpu_us_per_packet: f64,
    /// CPU per datagram the server received: with no viewers, what a camera packet costs alone.
    pub server_cpu_us_per_datagram_in: f64,
    pub server_cpu_cores: f64,
    /// Packets each pass over a viewer's connection sent on average: a frame's worth when the
    /// relay flushes each viewer once per frame.
    pub packets_per_flush: f64,
    pub memory_per_viewer_bytes: f64,
    pub server_rss_bytes: u64,
    pub packets_lost: u64,
    pub loss_percent: f64,
    /// Datagrams the relay received per second (the camera's media, and every viewer's RTCP and
    /// consent checks).
    pub datagrams_in_per_second: f64,
    /// Times the server's threads woke per second, and its CPU per wake-up: the part of the cost
    /// that a pass costs whatever it carries.
    pub wakeups_per_second: f64,
    pub server_cpu_us_per_wakeup: f64,
}

/// The packets the viewers did not get of the `sent` ones, given what each `received` in the same
/// window. Packets in flight at the window's edges are at most a frame's worth per viewer, so
/// that many are not counted as lost.
pub fn packets_lost(media: Media, sent: u64, received: impl Iterator<Item = u64>) -> u64 {
    let slack = media.packets_per_frame() as u64;
    received.map(|r| sent.saturating_sub(r).saturating_sub(slack)).sum()
}

/// The relay's counters a run reads, from the server's Prometheus metrics.
#[derive(Debug, Clone, Copy)]
struct Counters {
    forwarded: f64,
    flushes: f64,
    datagrams_in: f64,
}

impl Counters {
    /// One request for all of them: the request costs the server CPU too (about half a
    /// millisecond), so it is made outside the window the server's CPU is measured over.
    async fn read(http: &reqwest::Client, base: &str) -> anyhow::Result<Counters> {
        let text = http.get(format!("{base}/metrics")).send().await?.text().await?;
        let metric = |name: &str| -> anyhow::Result<f64> {
            let line = text.lines().find(|l| l.split_whitespace().next() == Some(name)).with_context(|| format!("no metric {name}"))?;
            Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
        };
        Ok(Counters {
            forwarded: metric("fieldcast_relay_forwarded_packets_total")?,
            flushes: metric("fieldcast_relay_viewer_flushes_total")?,
            datagrams_in: metric("fieldcast_relay_datagrams_in_total")?,
        })
    }
}

/// Runs the fan-out for each viewer count. `packet_gap` spreads each of the camera's frames out
/// (see [`Media::packet_gap`]); the floor's camera keeps the same gap.
pub async fn fanout(server_bin: &Path, counts: &[usize], window: Duration, packet_gap: Duration) -> anyhow::Result<Fanout> {
    let server = Server::start(server_bin)?;
    let http = reqwest::Client::new();
    let token = server.demo["farmer"]["token"].as_str().context("token")?;
    let stream: Value = http
        .post(format!("{}/api/v1/streams", server.base))
        .bearer_auth(token)
        .json(&json!({ "title": "Fan-out", "listing_ids": [server.demo["listings"][0]["id"]] }))
        .send()
        .await?
        .json()
        .await?;
    let whep = stream["whep_url"].as_str().context("whep")?.to_owned();
    let media = Media { packet_gap, ..Media::phone() };
    let camera = live_probe::publish(&http, stream["whip_url"].as_str().context("whip")?, stream["publish_token"].as_str().context("token")?, media).await?;
    camera.connected(Duration::from_secs(20)).await?;
    camera.packets_at_least(100, Duration::from_secs(20)).await?;
    let baseline_rss = rss_bytes(server.pid());

    let mut viewers: Vec<Peer> = Vec::new();
    let mut runs = Vec::new();
    for &count in counts {
        while viewers.len() < count {
            let batch = (count - viewers.len()).min(25);
            let mut joining = Vec::new();
            for _ in 0..batch {
                let (http, whep) = (http.clone(), whep.clone());
                joining.push(tokio::spawn(async move {
                    let peer = live_probe::play(&http, &whep).await?;
                    peer.connected(Duration::from_secs(30)).await?;
                    peer.packets_at_least(1, Duration::from_secs(30)).await?;
                    anyhow::Ok(peer)
                }));
            }
            for task in joining {
                viewers.push(task.await??);
            }
        }
        let pid = server.pid();
        // The counters are read just outside the CPU window on both sides. The packets forwarded
        // while a request is answered (a millisecond or so, against 67 between frames) are then
        // rarely any; the requests' own work would always be counted the other way round.
        let before = Counters::read(&http, &server.base).await?;
        let cpu_before = cpu_seconds(pid);
        let wakeups_before = wakeups(pid);
        let sent_before = camera.stats.packets();
        let received_before: Vec<u64> = viewers.iter().map(|v| v.stats.packets()).collect();
        let started = Instant::now();
        // The measurement window: a benchmark samples over a fixed time by design.
        tokio::time::sleep(window).await;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
        let woke = wakeups(pid) - wakeups_before;
        let sent = camera.stats.packets() - sent_before;
        let after = Counters::read(&http, &server.base).await?;
        let forwarded = (after.forwarded - before.forwarded) as u64;
        let flushes = after.flushes - before.flushes;
        let datagrams_in = after.datagrams_in - before.datagrams_in;
        let lost = packets_lost(media, sent, viewers.iter().zip(&received_before).map(|(v, before)| v.stats.packets() - before));
        let rss = rss_bytes(pid);
        runs.push(FanoutRun {
            viewers: count,
            forwarded_packets: forwarded,
            packets_per_second: forwarded as f64 / elapsed,
            server_cpu_us_per_packet: cpu * 1e6 / forwarded.max(1) as f64,
            server_cpu_us_per_datagram_in: cpu * 1e6 / datagrams_in.max(1.0),
            server_cpu_cores: cpu / elapsed,
            packets_per_flush: forwarded as f64 / flushes.max(1.0),
            memory_per_viewer_bytes: rss.saturating_sub(baseline_rss) as f64 / count.max(1) as f64,
            server_rss_bytes: rss,
            packets_lost: lost,
            loss_percent: 100.0 * lost as f64 / (sent * count as u64).max(1) as f64,
            datagrams_in_per_second: datagrams_in / elapsed,
            wakeups_per_second: woke as f64 / elapsed,
            server_cpu_us_per_wakeup: cpu * 1e6 / woke.max(1) as f64,
        });
    }
    for viewer in viewers {
        viewer.close().await?;
    }
    camera.close().await?;
    drop(server);
    let floor = floor::fanout(counts, window, media).await?;
    let spread = match media.packet_gap.as_micros() {
        0 => "a frame's packets back to back".to_owned(),
        gap => format!("a frame's packets {} ms apart", gap as f64 / 1000.0),
    };
    let camera = format!("{} kbit/s, {} fps, {} B payloads, {spread}", media.bitrate_bps / 1000, media.fps, media.payload);
    Ok(Fanout { camera, window_seconds: window.as_secs(), runs, floor })
}
