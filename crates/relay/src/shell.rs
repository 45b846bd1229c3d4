//! The relay's imperative shell: one thread that owns the UDP socket, the timer and the [`Sfu`],
//! and the [`Relay`] handle the marketplace calls from its request handlers.
//!
//! The thread runs its own single-threaded runtime so that forwarding never waits behind HTTP
//! work on the server's runtime (and the other way round). Requests reach it over a channel and
//! get their answers on a oneshot; everything else it does is a reaction to a datagram or to a
//! deadline the core asked for.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::sfu::{Limits, Sfu, Transmit};
use crate::{Answer, RelayError, RelayEvent, SessionId, SessionInfo, Stats, StreamState};

/// Where the relay listens and what it tells clients.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The UDP address to bind (port 0 picks one).
    pub bind: SocketAddr,
    /// The address to put in the host candidate, when it differs from the bound one (binding
    /// `0.0.0.0`, or behind a 1:1 NAT). The port is always the bound one.
    pub advertise: Option<IpAddr>,
    pub limits: Limits,
}

impl RelayConfig {
    pub fn new(bind: SocketAddr) -> RelayConfig {
        RelayConfig { bind, advertise: None, limits: Limits::default() }
    }
}

enum Command {
    Publish { stream: String, offer: String, reply: oneshot::Sender<Result<Answer, RelayError>> },
    Play { stream: String, offer: String, reply: oneshot::Sender<Result<Answer, RelayError>> },
    Trickle { session: SessionId, if_match: Option<String>, fragment: String, reply: oneshot::Sender<Result<(), RelayError>> },
    Session { session: SessionId, reply: oneshot::Sender<Option<SessionInfo>> },
    End { session: SessionId, reply: oneshot::Sender<Result<SessionInfo, RelayError>> },
    EndStream { stream: String, reply: oneshot::Sender<()> },
    StreamState { stream: String, reply: oneshot::Sender<StreamState> },
    Stats { reply: oneshot::Sender<Stats> },
}

/// The handle to a running relay. Dropping every clone stops the relay thread, which closes all
/// sessions and the socket.
#[derive(Clone)]
pub struct Relay {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<RelayEvent>,
    local: SocketAddr,
}

impl Relay {
    /// Binds the socket and starts the relay thread.
    pub fn start(config: RelayConfig) -> io::Result<Relay> {
        let socket = std::net::UdpSocket::bind(config.bind)?;
        socket.set_nonblocking(true)?;
        let bound = socket.local_addr()?;
        let ip = match config.advertise {
            Some(ip) => ip,
            None if bound.ip().is_unspecified() => primary_ip(bound.ip())?,
            None => bound.ip(),
        };
        let local = SocketAddr::new(ip, bound.port());
        let (commands, receiver) = mpsc::channel(1024);
        let (events, _) = broadcast::channel(1024);
        let sfu = Sfu::new(local, config.limits).map_err(io::Error::other)?;
        let thread_events = events.clone();
        std::thread::Builder::new().name("relay".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the relay thread");
            runtime.block_on(async move {
                let socket = UdpSocket::from_std(socket).expect("a tokio socket from a std one");
                run(socket, sfu, receiver, thread_events).await;
            });
        })?;
        Ok(Relay { commands, events, local })
    }

    /// The address clients send media to (the host candidate).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Relay events as they happen. A receiver that falls far behind misses some
    /// ([`broadcast::error::RecvError::Lagged`]) and should read the current state again.
    pub fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    pub async fn publish(&self, stream: &str, offer: String) -> Result<Answer, RelayError> {
        self.ask(|reply| Command::Publish { stream: stream.to_owned(), offer, reply }).await?
    }

    pub async fn play(&self, stream: &str, offer: String) -> Result<Answer, RelayError> {
        self.ask(|reply| Command::Play { stream: stream.to_owned(), offer, reply }).await?
    }

    pub async fn trickle(&self, session: SessionId, if_match: Option<String>, fragment: String) -> Result<(), RelayError> {
        self.ask(|reply| Command::Trickle { session, if_match, fragment, reply }).await?
    }

    pub async fn session(&self, session: SessionId) -> Result<Option<SessionInfo>, RelayError> {
        self.ask(|reply| Command::Session { session, reply }).await
    }

    pub async fn end_session(&self, session: SessionId) -> Result<SessionInfo, RelayError> {
        self.ask(|reply| Command::End { session, reply }).await?
    }

    pub async fn end_stream(&self, stream: &str) -> Result<(), RelayError> {
        self.ask(|reply| Command::EndStream { stream: stream.to_owned(), reply }).await
    }

    pub async fn stream_state(&self, stream: &str) -> Result<StreamState, RelayError> {
        self.ask(|reply| Command::StreamState { stream: stream.to_owned(), reply }).await
    }

    pub async fn stats(&self) -> Result<Stats, RelayError> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.map_err(|_| RelayError::Stopped)?;
        answer.await.map_err(|_| RelayError::Stopped)
    }
}

/// The address this host sends from by default: what a client on the network most likely
/// reaches. Connecting a UDP socket sends nothing; it only asks the routing table.
fn primary_ip(family: IpAddr) -> io::Result<IpAddr> {
    let (bind, probe): (SocketAddr, SocketAddr) = if family.is_ipv4() {
        (([0, 0, 0, 0], 0).into(), ([192, 0, 2, 1], 9).into())
    } else {
        ((std::net::Ipv6Addr::UNSPECIFIED, 0).into(), ("2001:db8::1".parse::<std::net::Ipv6Addr>().expect("a literal"), 9).into())
    };
    let socket = std::net::UdpSocket::bind(bind)?;
    socket.connect(probe).map_err(|e| io::Error::new(e.kind(), format!("no route to find this host's address ({e}); pass the address to advertise")))?;
    Ok(socket.local_addr()?.ip())
}

/// A deadline far enough away to mean "none".
const IDLE: Duration = Duration::from_secs(3600);
/// Datagrams read in one go before the loop looks at its other inputs again.
const READ_BATCH: usize = 64;

async fn run(socket: UdpSocket, mut sfu: Sfu, mut commands: mpsc::Receiver<Command>, events: broadcast::Sender<RelayEvent>) {
    let mut buf = vec![0u8; 2048];
    let mut send_errors = 0u64;
    loop {
        send_all(&socket, &mut sfu, &mut send_errors).await;
        while let Some(event) = sfu.poll_event() {
            let _ = events.send(event);
        }
        let deadline = sfu.poll_timeout().unwrap_or_else(|| Instant::now() + IDLE);
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => execute(&mut sfu, command, send_errors),
                None => break,
            },
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => {
                    sfu.handle_datagram(Instant::now(), from, &buf[..n]);
                    for _ in 1..READ_BATCH {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, from)) => sfu.handle_datagram(Instant::now(), from, &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
                // A UDP read error (an ICMP report surfacing) concerns one peer, never the socket.
                Err(error) => tracing::debug!(%error, "relay socket read"),
            },
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
        let now = Instant::now();
        if sfu.poll_timeout().is_some_and(|at| at <= now) {
            sfu.handle_timeout(now);
        }
    }
    // Every handle is gone: close what is open, say goodbye on the wire, and let the socket go.
    sfu.end_all();
    send_all(&socket, &mut sfu, &mut send_errors).await;
}

fn execute(sfu: &mut Sfu, command: Command, send_errors: u64) {
    let now = Instant::now();
    match command {
        Command::Publish { stream, offer, reply } => {
            let _ = reply.send(sfu.publish(now, &stream, &offer));
        }
        Command::Play { stream, offer, reply } => {
            let _ = reply.send(sfu.play(now, &stream, &offer));
        }
        Command::Trickle { session, if_match, fragment, reply } => {
            let _ = reply.send(sfu.trickle(now, session, if_match.as_deref(), &fragment));
        }
        Command::Session { session, reply } => {
            let _ = reply.send(sfu.session(session));
        }
        Command::End { session, reply } => {
            let _ = reply.send(sfu.end_session(session));
        }
        Command::EndStream { stream, reply } => {
            sfu.end_stream(&stream);
            let _ = reply.send(());
        }
        Command::StreamState { stream, reply } => {
            let _ = reply.send(sfu.stream_state(&stream));
        }
        Command::Stats { reply } => {
            let mut stats = sfu.stats();
            stats.send_errors = send_errors;
            let _ = reply.send(stats);
        }
    }
}

/// Datagrams handed to the kernel in one system call at most.
const SEND_BATCH: usize = 64;

/// Puts every queued datagram on the wire, in batches. UDP sends only wait when the socket's
/// buffer is full; an error concerns one destination and is counted, never fatal.
async fn send_all(socket: &UdpSocket, sfu: &mut Sfu, send_errors: &mut u64) {
    let mut batch: Vec<Transmit> = Vec::with_capacity(SEND_BATCH);
    loop {
        batch.clear();
        while batch.len() < SEND_BATCH {
            match sfu.poll_transmit() {
                Some(transmit) => batch.push(transmit),
                None => break,
            }
        }
        if batch.is_empty() {
            return;
        }
        let mut sent = 0;
        while sent < batch.len() {
            match socket.try_io(Interest::WRITABLE, || send_batch(socket, &batch[sent..])) {
                Ok(n) if n > 0 => sent += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if socket.writable().await.is_err() {
                        *send_errors += (batch.len() - sent) as u64;
                        break;
                    }
                }
                // The first datagram of the rest failed (an unreachable destination): skip it.
                _ => {
                    *send_errors += 1;
                    sent += 1;
                }
            }
        }
    }
}

/// Sends a batch with one `sendmmsg(2)`; returns how many datagrams went (at least one, or an
/// error about the first).
#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, batch: &[Transmit]) -> io::Result<usize> {
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

    let slices: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|t| [IoSlice::new(&t.data)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = batch.iter().map(|t| Some(SockaddrStorage::from(t.to))).collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(batch.len(), None);
    let no_cmsgs: [ControlMessage<'_>; 0] = [];
    let results = sendmmsg(socket.as_raw_fd(), &mut headers, &slices, &addrs, no_cmsgs, MsgFlags::empty()).map_err(io::Error::from)?;
    Ok(results.count())
}

/// Elsewhere, one `send_to` per datagram.
#[cfg(not(target_os = "linux"))]
fn send_batch(socket: &UdpSocket, batch: &[Transmit]) -> io::Result<usize> {
    let transmit = &batch[0];
    socket.try_send_to(&transmit.data, transmit.to).map(|_| 1)
}
