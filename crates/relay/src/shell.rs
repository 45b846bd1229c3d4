//! The relay's imperative shell: one thread that owns the UDP sockets ([`Sockets`]), the timer
//! and the [`Sfu`], and the [`Relay`] handle the marketplace calls from its request handlers.
//!
//! The thread is a plain one, outside the server's runtime, so that forwarding never waits
//! behind HTTP work (and the other way round), and it blocks in the kernel ([`Sockets::wait`])
//! rather than in an async runtime: each camera packet wakes it, and at a few viewers that
//! wake-up is most of what a packet costs (ARCHITECTURE.md, the relay), which is also why
//! viewers' own datagrams ride on the camera's wake-ups ([`crate::sockets`]). Requests reach it
//! over a channel, with a byte on a socket pair to wake it, and get their answers on a oneshot;
//! everything else it does is a reaction to a datagram or to a deadline the core asked for.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::sfu::{Limits, Sfu, Transmit};
use crate::sockets::Sockets;
use crate::wire;
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
    // Declared before `wake`, so the channel is closed when the last handle's wake-up is sent.
    commands: mpsc::Sender<Command>,
    wake: Arc<Wake>,
    events: broadcast::Sender<RelayEvent>,
    local: SocketAddr,
}

/// The sending end of the relay thread's wake-up socket. The last handle to go wakes the thread
/// once more, so it sees the closed channel and stops.
struct Wake(UnixDatagram);

impl Wake {
    fn poke(&self) {
        // A full buffer means wake-ups are already waiting; the thread reads them all at once.
        let _ = self.0.send(&[1]);
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        self.poke();
    }
}

impl Relay {
    /// Binds the socket and starts the relay thread.
    pub fn start(config: RelayConfig) -> io::Result<Relay> {
        let (wake, woken) = UnixDatagram::pair()?;
        wake.set_nonblocking(true)?;
        let sockets = Sockets::bind(config.bind, woken)?;
        let bound = sockets.local_addr();
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
        std::thread::Builder::new().name("relay".into()).spawn(move || run(sockets, sfu, receiver, thread_events))?;
        Ok(Relay { commands, wake: Arc::new(Wake(wake)), events, local })
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
        self.wake.poke();
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

/// Datagrams taken from the core for one [`wire::Sender::send`]: enough to hold a frame for
/// every viewer of a few dozen, so runs to one viewer stay whole.
const SEND_BATCH: usize = 256;

/// The relay thread: waits ([`Sockets::wait`]) for a datagram, a command or the core's next
/// deadline, and feeds whichever came to the [`Sfu`]. Returns when every [`Relay`] handle is gone.
fn run(mut sockets: Sockets, mut sfu: Sfu, mut commands: mpsc::Receiver<Command>, events: broadcast::Sender<RelayEvent>) {
    // The system calls' buffers are made here: they hold pointers, so they stay on this thread.
    let mut out = Outbox { wire: wire::Sender::new(), errors: 0, batch: Vec::with_capacity(SEND_BATCH) };
    let mut receiver = wire::Receiver::new();
    loop {
        loop {
            match commands.try_recv() {
                Ok(command) => execute(&mut sfu, command, out.errors),
                Err(mpsc::error::TryRecvError::Empty) => break,
                // Every handle is gone: close what is open, say goodbye on the wire, and let
                // the sockets go.
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    sfu.end_all();
                    out.send_all(sockets.shared(), &mut sfu);
                    return;
                }
            }
        }
        // Deadlines due by now run in this pass, whether a datagram, a command or the timer
        // woke the thread (see `TIMER_SLACK` in the core).
        sfu.handle_timeout(Instant::now());
        out.send_all(sockets.shared(), &mut sfu);
        while let Some(event) = sfu.poll_event() {
            let _ = events.send(event);
        }
        sockets.follow(sfu.cameras());
        if sockets.wait(Instant::now(), sfu.poll_timeout()).is_err() {
            continue;
        }
        sockets.read(&mut receiver, Instant::now(), |from, data| sfu.handle_datagram(Instant::now(), from, data));
    }
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

/// What the loop keeps between sends: the sender, datagrams the kernel refused, the batch.
struct Outbox {
    wire: wire::Sender,
    errors: u64,
    batch: Vec<Transmit>,
}

impl Outbox {
    /// Puts every datagram the core has queued on the wire, in batches.
    fn send_all(&mut self, socket: &UdpSocket, sfu: &mut Sfu) {
        loop {
            self.batch.clear();
            while self.batch.len() < SEND_BATCH {
                match sfu.poll_transmit() {
                    Some(transmit) => self.batch.push(transmit),
                    None => break,
                }
            }
            if self.batch.is_empty() {
                return;
            }
            self.errors += self.wire.send(socket, &self.batch, &mut || wire::wait_writable(socket)).errors;
            for transmit in self.batch.drain(..) {
                sfu.recycle(transmit.data);
            }
        }
    }
}
