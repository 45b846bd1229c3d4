//! A TCP proxy that makes a loopback link behave like a rural one: it cuts connections at random
//! points, delays every chunk (latency), limits throughput (bandwidth), and can swallow everything
//! (a black hole, as when a phone keeps a dead connection open). Faults change while it runs, so a
//! test can break the network, heal it, and count what happened.
//!
//! It only ever connects to the one upstream address it was given (the server under test on
//! loopback).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_engine::SplitMix64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to traffic now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// The chance, in percent, that a new connection is cut somewhere in its first 64 KiB.
    pub cut_percent: u64,
    /// The chance, in percent, that a live connection is cut at each chunk it carries (about a
    /// request or an answer), so that connections kept alive break too.
    pub cut_chunk_percent: u64,
    /// Added to every chunk in each direction: half the round-trip time.
    pub one_way_delay: Duration,
    /// Bits per second in each direction; `None` for no limit.
    pub bandwidth_bps: Option<u64>,
    /// Accept connections but forward nothing and answer nothing.
    pub black_hole: bool,
    /// Refuse new connections outright, as when the network is down.
    pub refuse: bool,
}

/// Counts for the test's report.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub cut: AtomicU64,
    pub refused: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

pub struct FaultProxy {
    addr: SocketAddr,
    faults: watch::Sender<Faults>,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`. `seed` makes the cuts repeatable.
    pub async fn start(upstream: SocketAddr, seed: u64) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (faults, watching) = watch::channel(Faults::default());
        let stats = Arc::new(Stats::default());
        let counters = stats.clone();
        let rng = Arc::new(Mutex::new(SplitMix64::new(seed)));
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let faults = *watching.borrow();
                counters.connections.fetch_add(1, Ordering::Relaxed);
                if faults.refuse {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    drop(inbound);
                    continue;
                }
                let (cut_after, seed) = {
                    let mut rng = rng.lock().unwrap_or_else(|p| p.into_inner());
                    // A cut lands anywhere in the first 64 KiB: in a request, or in its answer.
                    (rng.chance(faults.cut_percent).then(|| rng.below(64 * 1024)), rng.next_u64())
                };
                tokio::spawn(connection(inbound, upstream, watching.clone(), counters.clone(), cut_after, seed));
            }
        });
        Ok(FaultProxy { addr, faults, stats, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, faults: Faults) {
        self.faults.send_replace(faults);
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection(
    inbound: TcpStream,
    upstream: SocketAddr,
    faults: watch::Receiver<Faults>,
    stats: Arc<Stats>,
    cut_after: Option<u64>,
    seed: u64,
) {
    if faults.borrow().black_hole {
        // Hold the connection and swallow what arrives until the hole closes or the client gives up.
        let _ = swallow(inbound, faults).await;
        return;
    }
    let Ok(outbound) = TcpStream::connect(upstream).await else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    // Both directions share one byte budget before the cut, so it can fall in a request or an answer.
    let budget = Arc::new(AtomicU64::new(cut_after.unwrap_or(u64::MAX)));
    let rng = Arc::new(Mutex::new(SplitMix64::new(seed)));
    let up = pump(in_read, out_write, faults.clone(), budget.clone(), stats.clone(), true, rng.clone());
    let down = pump(out_read, in_write, faults, budget, stats.clone(), false, rng);
    let (up, down) = tokio::join!(up, down);
    if up == Ended::Cut || down == Ended::Cut {
        stats.cut.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Closed,
    Cut,
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: watch::Receiver<Faults>,
    budget: Arc<AtomicU64>,
    stats: Arc<Stats>,
    up: bool,
    rng: Arc<Mutex<SplitMix64>>,
) -> Ended {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ended::Closed;
            }
            Ok(read) => read,
        };
        let current = *faults.borrow();
        // Latency and bandwidth: this chunk arrives after the delay plus its own transmission time.
        let transmit = current.bandwidth_bps.map_or(Duration::ZERO, |bps| Duration::from_secs_f64(read as f64 * 8.0 / bps.max(1) as f64));
        let wait = current.one_way_delay + transmit;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // A live connection may be cut too: each chunk stands for about a request or an answer.
        let cut_now = current.cut_chunk_percent > 0 && rng.lock().unwrap_or_else(|p| p.into_inner()).chance(current.cut_chunk_percent);
        if cut_now {
            budget.store(rng.lock().unwrap_or_else(|p| p.into_inner()).below(read as u64 + 1), Ordering::SeqCst);
        }
        let left = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| Some(left.saturating_sub(read as u64))).unwrap_or(0);
        let (forward, cut) = if (read as u64) >= left { (left as usize, true) } else { (read, false) };
        if to.write_all(&buffer[..forward]).await.is_err() {
            return Ended::Closed;
        }
        let counter = if up { &stats.bytes_up } else { &stats.bytes_down };
        counter.fetch_add(forward as u64, Ordering::Relaxed);
        if cut || current.black_hole {
            // Abrupt, like a radio link going away: no more bytes either way.
            let _ = to.shutdown().await;
            return Ended::Cut;
        }
    }
}

async fn swallow(mut inbound: TcpStream, mut faults: watch::Receiver<Faults>) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = inbound.read(&mut buffer) => if read? == 0 { return Ok(()) },
            changed = faults.changed() => {
                if changed.is_err() || !faults.borrow().black_hole {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 4096];
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 || socket.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(addr: SocketAddr, bytes: usize) -> std::io::Result<Vec<u8>> {
        let mut socket = TcpStream::connect(addr).await?;
        socket.write_all(&vec![7u8; bytes]).await?;
        socket.shutdown().await?;
        let mut back = Vec::new();
        socket.read_to_end(&mut back).await?;
        Ok(back)
    }

    #[tokio::test]
    async fn forwards_untouched_without_faults() {
        let proxy = FaultProxy::start(echo_server().await, 1).await.unwrap();
        assert_eq!(round_trip(proxy.addr(), 100_000).await.unwrap().len(), 100_000);
        assert_eq!(proxy.stats().bytes_up.load(Ordering::Relaxed), 100_000);
    }

    #[tokio::test]
    async fn cuts_every_connection_at_full_rate() {
        let proxy = FaultProxy::start(echo_server().await, 2).await.unwrap();
        proxy.set(Faults { cut_percent: 100, ..Faults::default() });
        for _ in 0..5 {
            let back = round_trip(proxy.addr(), 80 * 1024).await.map(|b| b.len()).unwrap_or(0);
            assert!(back < 80 * 1024, "a cut connection delivers less than everything");
        }
        assert_eq!(proxy.stats().cut.load(Ordering::Relaxed), 5);
    }

    #[tokio::test]
    async fn refuses_and_heals() {
        let proxy = FaultProxy::start(echo_server().await, 3).await.unwrap();
        proxy.set(Faults { refuse: true, ..Faults::default() });
        assert!(round_trip(proxy.addr(), 10).await.map(|b| b.is_empty()).unwrap_or(true));
        proxy.set(Faults::default());
        assert_eq!(round_trip(proxy.addr(), 10).await.unwrap().len(), 10);
    }

    #[tokio::test]
    async fn shapes_bandwidth() {
        let proxy = FaultProxy::start(echo_server().await, 4).await.unwrap();
        // 80 kbit/s: 10 KB each way takes about a second either way.
        proxy.set(Faults { bandwidth_bps: Some(80_000), ..Faults::default() });
        let started = std::time::Instant::now();
        assert_eq!(round_trip(proxy.addr(), 10_000).await.unwrap().len(), 10_000);
        assert!(started.elapsed() >= Duration::from_millis(1_500), "{:?}", started.elapsed());
    }
}
