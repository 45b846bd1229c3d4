//! The relay over many sessions, against the real server process: 200 viewer sessions opened and
//! closed give back every socket, task and session; viewers that vanish without a word are dropped
//! without slowing the ones that stay; a camera that vanishes is reported to buyers at once, and
//! its stream is given up after the idle timeout.

use std::time::Duration;

use anyhow::Context;
use live_probe::{Media, Peer};
use serde_json::{Value, json};
use tests::{MarketServer, ProcessUsage, install_crypto, metric};

/// Connects a viewer and waits until media reaches it.
async fn viewer(http: &reqwest::Client, whep: &str) -> anyhow::Result<Peer> {
    let peer = live_probe::play(http, whep).await?;
    peer.connected(Duration::from_secs(20)).await?;
    peer.packets_at_least(1, Duration::from_secs(20)).await?;
    Ok(peer)
}

/// Waits until the server's metric reaches `value`.
async fn metric_reaches(base: &str, name: &str, value: f64) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let now = metric(base, name)?;
        if now == value {
            return Ok(());
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "{name} stayed at {now}, expected {value}");
        tick.tick().await;
    }
}

/// The server's usage once the test's HTTP connections are gone and, with `threads_at_most`,
/// once its thread count is down to that; the last reading if the deadline passes first.
///
/// Both come and go without a leak. Each request's connection is closed by the client after
/// its response, and the server closes its end a moment later. The runtime's blocking pool
/// (database reads) grows with the requests in flight and lets an idle thread go after 10 s.
/// A descriptor or a thread that a session left behind never goes, so the caller's equality
/// checks still catch it.
async fn settled_usage(pid: u32, threads_at_most: Option<usize>) -> anyhow::Result<ProcessUsage> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        let usage = ProcessUsage::of(pid)?;
        let settled = usage.tcp_connections == 0 && threads_at_most.is_none_or(|most| usage.threads <= most);
        if settled || std::time::Instant::now() >= deadline {
            return Ok(usage);
        }
        tick.tick().await;
    }
}

struct Live {
    server: MarketServer,
    http: reqwest::Client,
    whep: String,
    /// The buyers' live page.
    watch: String,
    camera: Peer,
}

async fn live_stream(server: MarketServer) -> anyhow::Result<Live> {
    install_crypto();
    // No idle pool: a kept-alive connection would be one more descriptor in the server that
    // comes and goes with the pool, not with the sessions the leak test counts.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let token = server.demo["farmer"]["token"].as_str().context("token")?.to_owned();
    let stream: Value = http
        .post(format!("{}/api/v1/streams", server.base))
        .bearer_auth(&token)
        .json(&json!({ "title": "Many viewers", "listing_ids": [server.demo["listings"][0]["id"]] }))
        .send()
        .await?
        .json()
        .await?;
    let camera = live_probe::publish(&http, stream["whip_url"].as_str().context("whip")?, stream["publish_token"].as_str().context("token")?, Media::phone()).await?;
    camera.connected(Duration::from_secs(20)).await?;
    let whep = stream["whep_url"].as_str().context("whep")?.to_owned();
    let watch = stream["watch_url"].as_str().context("watch")?.to_owned();
    Ok(Live { server, http, whep, watch, camera })
}

#[test]
fn two_hundred_viewer_sessions_give_back_their_sockets_tasks_and_memory() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let live = live_stream(MarketServer::start_demo()?).await?;
        let (base, pid) = (live.server.base.clone(), live.server.pid());
        // Warm up: the first sessions size the allocator's pools and the relay's maps.
        for _ in 0..2 {
            let peers = futures(&live, 20).await?;
            for peer in peers {
                peer.close().await?;
            }
        }
        metric_reaches(&base, "fieldcast_relay_sessions", 1.0).await?;
        let before = settled_usage(pid, None).await?;
        assert_eq!(before.tcp_connections, 0, "the warm-up's HTTP connections are closed");
        let tasks_before = metric(&base, "fieldcast_tasks")?;

        let mut opened = 0;
        while opened < 200 {
            let peers = futures(&live, 20).await?;
            opened += peers.len();
            assert_eq!(metric(&base, "fieldcast_relay_sessions")?, 21.0);
            for peer in peers {
                peer.close().await?;
            }
        }
        metric_reaches(&base, "fieldcast_relay_sessions", 1.0).await?;
        metric_reaches(&base, "fieldcast_relay_streams", 1.0).await?;
        let after = settled_usage(pid, Some(before.threads)).await?;
        println!("after 200 viewer sessions: {before:?} -> {after:?}");
        assert_eq!(after.tcp_connections, 0, "the test's HTTP connections are closed");
        assert_eq!(after.fds, before.fds, "sockets and files come back");
        assert!(after.threads <= before.threads, "no thread is left behind: {} -> {}", before.threads, after.threads);
        assert!(after.rss_kib <= before.rss_kib + 4 * 1024, "memory comes back: {} KiB -> {} KiB", before.rss_kib, after.rss_kib);
        assert_eq!(metric(&base, "fieldcast_tasks")?, tasks_before, "no task is left behind");
        assert!(metric(&base, "fieldcast_relay_routes")? <= 2.0, "only the camera's addresses stay routed");
        // The camera never noticed.
        let sent = live.camera.stats.packets();
        live.camera.packets_at_least(sent + 20, Duration::from_secs(10)).await?;
        Ok(())
    })
}

/// Opens `n` viewers at once and waits until media reaches each.
async fn futures(live: &Live, n: usize) -> anyhow::Result<Vec<Peer>> {
    let mut pending = Vec::new();
    for _ in 0..n {
        let (http, whep) = (live.http.clone(), live.whep.clone());
        pending.push(tokio::spawn(async move { viewer(&http, &whep).await }));
    }
    let mut peers = Vec::new();
    for task in pending {
        peers.push(task.await??);
    }
    Ok(peers)
}

#[test]
fn viewers_that_vanish_are_dropped_without_slowing_the_others() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let live = live_stream(MarketServer::start_demo_with(&["--media-idle-timeout", "2"])?).await?;
        let base = live.server.base.clone();
        let steady = futures(&live, 5).await?;
        let gone = futures(&live, 15).await?;
        assert_eq!(metric(&base, "fieldcast_relay_sessions")?, 21.0);
        // Fifteen phones lose their network: no DELETE, no consent checks, no RTCP.
        for peer in gone {
            peer.vanish().await;
        }
        metric_reaches(&base, "fieldcast_relay_sessions", 6.0).await?;

        // The ones that stayed got everything the camera sent meanwhile, give or take what was in
        // flight when counting.
        let camera_from = live.camera.stats.packets();
        let from: Vec<u64> = steady.iter().map(|p| p.stats.packets()).collect();
        live.camera.packets_at_least(camera_from + 200, Duration::from_secs(30)).await?;
        let sent = live.camera.stats.packets() - camera_from;
        for (peer, from) in steady.iter().zip(from) {
            peer.packets_at_least(from + sent - 10, Duration::from_secs(5)).await?;
        }
        for peer in steady {
            peer.close().await?;
        }
        Ok(())
    })
}

/// Waits until the live page, as a buyer opening it now gets it, has `status` and a notice that
/// contains `notice`.
async fn page_says(http: &reqwest::Client, watch: &str, status: &str, notice: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let page = http.get(format!("{watch}?lang=en")).send().await?.text().await?;
        let (now, said) = (between(&page, "data-status=\"", "\""), between(&page, "id=\"live-notice\"", "</p>"));
        if now == Some(status) && said.is_some_and(|said| said.contains(notice)) {
            return Ok(());
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the live page never said {status:?} with {notice:?}; last {now:?}, {said:?}");
        tick.tick().await;
    }
}

/// The text after `start` up to `end`, without the rest of `start`'s tag when `end` closes it.
fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let mut rest = &page[page.find(start)? + start.len()..];
    if end.starts_with("</") {
        rest = &rest[rest.find('>')? + 1..];
    }
    Some(&rest[..rest.find(end)?])
}

#[test]
fn a_camera_that_vanishes_is_reported_at_once_and_its_stream_given_up_after_the_idle_timeout() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let live = live_stream(MarketServer::start_demo_with(&["--media-idle-timeout", "6"])?).await?;
        let base = live.server.base.clone();
        let buyer = viewer(&live.http, &live.whep).await?;
        page_says(&live.http, &live.watch, "live", "").await?;

        // The farmer's phone loses its network: no DELETE, no media, no consent checks.
        live.camera.vanish().await;
        let vanished = std::time::Instant::now();
        // A buyer opening the page now is told it is the farmer's line, while the buyer already
        // watching keeps the connection, to play on if the camera comes back.
        page_says(&live.http, &live.watch, "interrupted", "connection has dropped").await?;
        let told = vanished.elapsed();
        assert_eq!(metric(&base, "fieldcast_relay_sessions")?, 2.0, "the camera and the buyer are still there");
        // Once the camera has been quiet for the idle timeout, the relay gives it up, and its
        // viewers with it: the stream waits for the farmer to go live again.
        page_says(&live.http, &live.watch, "waiting", "Waiting for").await?;
        metric_reaches(&base, "fieldcast_relay_sessions", 0.0).await?;
        println!("told {:.1} s after the camera vanished; given up {:.1} s after", told.as_secs_f64(), vanished.elapsed().as_secs_f64());
        buyer.vanish().await;
        Ok(())
    })
}
