//! `fieldcast-bench`: measures the real server binary on loopback.
//!
//! - `orders`: buyer order placement over HTTP, stock reservation and the durable commit included
//!   (`synchronous=FULL`): the most orders per second with many connections (closed loop), and the
//!   latency at a fixed offered rate (open loop, timed from each request's scheduled start so that
//!   a stall counts against every request it delays).
//! - `page`: an order link page's response time and its bytes over the wire, compressed, with
//!   everything it loads except the photo.
//! - `sync`: a day of offline changes pushed, orders pulled, and a rural link (see `sync.rs`).
//! - `live`: the relay's fan-out, one camera to 10, 50 and 200 viewers (see `live.rs`; `--packet-gap-ms`
//!   spreads each frame's packets out, as a browser does a key frame's), and the
//!   same fan-out through a UDP forwarder with the relay's I/O and SRTP, the floor (see `floor.rs`).
//! - `photo`: the listing photo pipeline against vipsthumbnail on a 12-megapixel JPEG.
//!
//! Each prints one JSON object; `cargo xtask bench` turns them into BENCHMARKS.md.

mod floor;
mod live;
mod load;
mod page;
mod photo;
mod server;
mod stats;
mod sync;

use std::path::PathBuf;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let server_bin = PathBuf::from(value("--server-bin").unwrap_or_else(|| "target/release/fieldcast-market".into()));
    let seconds: u64 = value("--seconds").map_or(Ok(10), |s| s.parse())?;
    client::remote::install_crypto();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = match args.first().map(String::as_str) {
        Some("orders") => {
            let rate: u32 = value("--rate").map_or(Ok(1000), |s| s.parse())?;
            let connections: usize = value("--connections").map_or(Ok(64), |s| s.parse())?;
            serde_json::to_value(runtime.block_on(load::orders(&server_bin, Duration::from_secs(seconds), rate, connections))?)?
        }
        Some("page") => serde_json::to_value(runtime.block_on(page::measure(&server_bin))?)?,
        Some("sync") => {
            let changes: usize = value("--changes").map_or(Ok(10_000), |s| s.parse())?;
            let rural: usize = value("--rural-changes").map_or(Ok(1_000), |s| s.parse())?;
            serde_json::to_value(runtime.block_on(sync::measure(&server_bin, changes, rural))?)?
        }
        Some("live") => {
            let counts: Vec<usize> = value("--viewers").unwrap_or_else(|| "10,50,200".into()).split(',').map(str::parse).collect::<Result<_, _>>()?;
            let gap = Duration::from_secs_f64(value("--packet-gap-ms").map_or(Ok(0.0), |s| s.parse::<f64>())? / 1000.0);
            serde_json::to_value(runtime.block_on(live::fanout(&server_bin, &counts, Duration::from_secs(seconds), gap))?)?
        }
        // The floor's forwarder, started by `live` as a child process.
        Some("udp-forwarder") => return floor::forward(),
        Some("photo") => {
            let runs: usize = value("--runs").map_or(Ok(7), |s| s.parse())?;
            serde_json::to_value(photo::measure(runs.max(1))?)?
        }
        _ => {
            eprintln!(
                "usage: fieldcast-bench <orders [--rate N] [--connections N] [--seconds N] | page | sync [--changes N] [--rural-changes N] | live [--viewers 10,50,200] [--seconds N] [--packet-gap-ms N] | photo [--runs N]> [--server-bin PATH]"
            );
            std::process::exit(2);
        }
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
