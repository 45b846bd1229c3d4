//! The relay's UDP sockets: the one every client sends to, and beside it, on the same port, one
//! socket connected to each camera.
//!
//! Why more than one: the relay thread's cost at a few viewers is mostly its wake-ups (see
//! ARCHITECTURE.md, the relay). A camera's packets must wake it, since they go out to viewers at
//! once; a viewer's own datagrams (receiver reports, consent checks, now and then a NACK) need
//! not. On one socket the two cannot be told apart before the thread is awake. So each camera,
//! once its checks have chosen its address ([`crate::sfu::Sfu::cameras`]), gets a socket bound to
//! the relay's port with `SO_REUSEPORT` and connected to that address: Linux delivers a datagram
//! to the socket connected to its sender ahead of a merely bound one. The thread always waits on
//! the cameras' sockets, and reads the shared socket on every camera pass too; it waits on the
//! shared socket itself only when no camera packet has come for [`FEEDBACK_DELAY`]. A viewer's
//! feedback thus waits for the next camera packet (20 ms apart with audio), never longer than
//! that delay, and a stream with no camera or no viewers is served as before.
//!
//! Nothing depends on which socket a datagram comes in on: every one goes to the core with its
//! sender, so a camera that moves, a datagram queued before the connection, or a system without
//! the split (the split is Linux-only) only costs wake-ups.
//!
//! The shared socket sets `SO_REUSEPORT` only after it is bound, so its bind still fails when the
//! port is taken, and another server binding the port afterwards without the option fails too.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::wire::{READ_BATCH, Receiver};

/// How long a viewer's datagram may wait for a camera packet to be read with. Longer than a
/// video frame's gap at 15 frames a second, so a camera without audio still carries the
/// feedback; short against the round trips a NACK and a keyframe request are worth.
pub const FEEDBACK_DELAY: Duration = Duration::from_millis(100);
/// Whether this system delivers a connected socket's datagrams to it, ahead of the bound one.
const SPLIT: bool = cfg!(target_os = "linux");

/// The shared socket, the cameras' sockets, and the relay thread's wake-up socket.
pub struct Sockets {
    shared: UdpSocket,
    local: SocketAddr,
    wake: UnixDatagram,
    cameras: Vec<Camera>,
    /// Until when the shared socket is left out of the wait: the last camera pass plus
    /// [`FEEDBACK_DELAY`]. `None` when the last read of it stopped before it was empty.
    quiet_until: Option<Instant>,
    shared_ready: bool,
    waiter: Waiter,
}

/// A camera's own socket. `socket` is `None` when it could not be made; the camera's packets
/// then come in on the shared socket.
struct Camera {
    peer: SocketAddr,
    socket: Option<UdpSocket>,
    ready: bool,
}

impl Sockets {
    /// Binds the shared socket at `addr` (port 0 picks one). A datagram on `wake` ends a
    /// [`Sockets::wait`]; the thread's other inputs (commands) poke it.
    pub fn bind(addr: SocketAddr, wake: UnixDatagram) -> io::Result<Sockets> {
        let shared = UdpSocket::bind(addr)?;
        shared.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        if SPLIT {
            reuse_port(&shared)?;
        }
        let local = shared.local_addr()?;
        let waiter = Waiter::new(&wake, &shared)?;
        Ok(Sockets { shared, local, wake, cameras: Vec::new(), quiet_until: None, shared_ready: false, waiter })
    }

    /// The address the shared socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The socket everything goes out on.
    pub fn shared(&self) -> &UdpSocket {
        &self.shared
    }

    /// Gives each camera in `peers` a socket and closes those of cameras gone or moved. Cheap
    /// when nothing changed, which is nearly always: call it every pass.
    pub fn follow(&mut self, peers: impl Iterator<Item = SocketAddr> + Clone) {
        if !SPLIT {
            return;
        }
        // The same cameras in the same order, the case of nearly every pass: nothing to do.
        let mut known = self.cameras.iter();
        if peers.clone().all(|peer| known.next().is_some_and(|camera| camera.peer == peer)) && known.next().is_none() {
            return;
        }
        let mut wanted: Vec<SocketAddr> = Vec::new();
        for peer in peers {
            if !wanted.contains(&peer) {
                wanted.push(peer);
            }
        }
        // A socket dropped here leaves the wait with it: closing a descriptor takes it out of
        // every epoll set.
        self.cameras.retain(|camera| wanted.contains(&camera.peer));
        for peer in wanted.iter() {
            if !self.cameras.iter().any(|camera| camera.peer == *peer) {
                let socket = connected(self.local, *peer)
                    .and_then(|socket| self.waiter.watch_camera(&socket).map(|()| socket))
                    .inspect_err(|error| tracing::debug!(%error, %peer, "no socket of its own for a camera"))
                    .ok();
                self.cameras.push(Camera { peer: *peer, socket, ready: false });
            }
        }
        // The next call compares in this order, so a set that did not change is found so.
        self.cameras.sort_by_key(|camera| wanted.iter().position(|peer| *peer == camera.peer));
    }

    /// Blocks until a datagram the thread waits for arrives, the wake-up socket is poked, or the
    /// `deadline` passes (never, without one). Reports whether it was poked, and takes the pokes.
    pub fn wait(&mut self, now: Instant, deadline: Option<Instant>) -> io::Result<bool> {
        let quiet = self.quiet_until.filter(|at| *at > now);
        let deadline = [deadline, quiet].into_iter().flatten().min();
        // Rounded up to the millisecond the kernel counts in, so the loop never spins on a
        // deadline a fraction of a millisecond away.
        let timeout = deadline.map(|at| at.saturating_duration_since(now).as_micros().div_ceil(1000));
        let ready = self.waiter.wait(&self.shared, quiet.is_none(), timeout)?;
        for camera in &mut self.cameras {
            camera.ready = camera.socket.as_ref().is_some_and(|socket| ready.camera(socket));
        }
        self.shared_ready = quiet.is_none() && ready.shared;
        if ready.woken {
            let mut buf = [0u8; 64];
            while self.wake.recv(&mut buf).is_ok() {}
        }
        Ok(ready.woken)
    }

    /// Hands every datagram the last [`Sockets::wait`] found, with its sender, to `handle`:
    /// the cameras' first, then the shared socket's, which a camera's packet drains as well.
    /// `receiver` holds the buffers; it is the thread's own, as it cannot move between threads.
    pub fn read(&mut self, receiver: &mut Receiver, now: Instant, mut handle: impl FnMut(SocketAddr, &[u8])) {
        let shared_ready = std::mem::take(&mut self.shared_ready);
        let mut camera_read = false;
        for camera in &mut self.cameras {
            if let (true, Some(socket)) = (std::mem::take(&mut camera.ready), &camera.socket) {
                camera_read |= receiver.read(socket, &mut handle) > 0;
            }
        }
        if camera_read || shared_ready {
            let read = receiver.read(&self.shared, &mut handle);
            if camera_read {
                // A full batch means more is waiting: keep waiting on the socket until it is read out.
                self.quiet_until = (read < READ_BATCH).then_some(now + FEEDBACK_DELAY);
            }
        }
    }
}

/// What one wait found ready.
struct Ready<'a> {
    woken: bool,
    shared: bool,
    /// The tokens of the cameras' sockets that are readable.
    cameras: &'a [u64],
}

impl Ready<'_> {
    fn camera(&self, socket: &UdpSocket) -> bool {
        self.cameras.contains(&token(socket))
    }
}

fn token(socket: &impl AsFd) -> u64 {
    use std::os::fd::AsRawFd;
    // A descriptor is never negative.
    socket.as_fd().as_raw_fd() as u64
}

/// Where the relay thread blocks: an epoll set that holds the wake-up socket and the cameras'
/// sockets for as long as they live, and the shared socket while it is waited on. Unlike
/// `poll(2)`, which hooks onto every descriptor again on each call, the set stays registered, so
/// a wait costs the same however many sockets there are.
#[cfg(target_os = "linux")]
struct Waiter {
    epoll: nix::sys::epoll::Epoll,
    shared_watched: bool,
    events: Vec<nix::sys::epoll::EpollEvent>,
    cameras: Vec<u64>,
}

#[cfg(target_os = "linux")]
const WAKE: u64 = u64::MAX;
#[cfg(target_os = "linux")]
const SHARED: u64 = u64::MAX - 1;

#[cfg(target_os = "linux")]
impl Waiter {
    fn new(wake: &UnixDatagram, shared: &UdpSocket) -> io::Result<Waiter> {
        use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(wake, EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
        epoll.add(shared, EpollEvent::new(EpollFlags::EPOLLIN, SHARED))?;
        Ok(Waiter { epoll, shared_watched: true, events: vec![EpollEvent::empty(); 16], cameras: Vec::new() })
    }

    fn watch_camera(&self, socket: &UdpSocket) -> io::Result<()> {
        use nix::sys::epoll::{EpollEvent, EpollFlags};
        Ok(self.epoll.add(socket, EpollEvent::new(EpollFlags::EPOLLIN, token(socket)))?)
    }

    /// Waits `timeout` milliseconds at most (for ever without one), with the shared socket in
    /// the set or not as `watch_shared` says.
    fn wait(&mut self, shared: &UdpSocket, watch_shared: bool, timeout: Option<u128>) -> io::Result<Ready<'_>> {
        use nix::sys::epoll::{EpollEvent, EpollFlags, EpollTimeout};

        if watch_shared != self.shared_watched {
            if watch_shared {
                self.epoll.add(shared, EpollEvent::new(EpollFlags::EPOLLIN, SHARED))?;
            } else {
                self.epoll.delete(shared)?;
            }
            self.shared_watched = watch_shared;
        }
        let timeout = match timeout {
            None => EpollTimeout::NONE,
            Some(ms) => EpollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(EpollTimeout::MAX),
        };
        let n = match self.epoll.wait(&mut self.events, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(error) => return Err(error.into()),
        };
        let (mut woken, mut shared_ready) = (false, false);
        self.cameras.clear();
        for event in &self.events[..n] {
            match event.data() {
                WAKE => woken = true,
                SHARED => shared_ready = true,
                camera => self.cameras.push(camera),
            }
        }
        Ok(Ready { woken, shared: shared_ready, cameras: &self.cameras })
    }
}

/// Elsewhere, `poll(2)` on the wake-up socket (a handle of its own on it) and the shared one;
/// there are no cameras' sockets without the split.
#[cfg(not(target_os = "linux"))]
struct Waiter {
    wake: UnixDatagram,
}

#[cfg(not(target_os = "linux"))]
impl Waiter {
    fn new(wake: &UnixDatagram, _shared: &UdpSocket) -> io::Result<Waiter> {
        Ok(Waiter { wake: wake.try_clone()? })
    }

    fn watch_camera(&self, _socket: &UdpSocket) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn wait(&mut self, shared: &UdpSocket, watch_shared: bool, timeout: Option<u128>) -> io::Result<Ready<'_>> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

        let timeout = timeout.map_or(PollTimeout::NONE, |ms| PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX));
        let mut fds = [PollFd::new(self.wake.as_fd(), PollFlags::POLLIN), PollFd::new(shared.as_fd(), PollFlags::POLLIN)];
        let watched = if watch_shared { 2 } else { 1 };
        match poll(&mut fds[..watched], timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(error) => return Err(error.into()),
        }
        let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        Ok(Ready { woken: ready(&fds[0]), shared: watch_shared && ready(&fds[1]), cameras: &[] })
    }
}

fn reuse_port(socket: &impl AsFd) -> io::Result<()> {
    nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReusePort, &true)?;
    Ok(())
}

/// A non-blocking socket on `local`'s port that receives only what `peer` sends there.
fn connected(local: SocketAddr, peer: SocketAddr) -> io::Result<UdpSocket> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrStorage, bind, connect, socket};
    use std::os::fd::AsRawFd;

    let family = if local.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
    reuse_port(&fd)?;
    bind(fd.as_raw_fd(), &SockaddrStorage::from(local))?;
    connect(fd.as_raw_fd(), &SockaddrStorage::from(peer))?;
    Ok(UdpSocket::from(fd))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    struct Setup {
        sockets: Sockets,
        receiver: Receiver,
        poke: UnixDatagram,
        camera: UdpSocket,
        viewer: UdpSocket,
        to: SocketAddr,
    }

    fn setup() -> Setup {
        let (poke, wake) = UnixDatagram::pair().unwrap();
        let sockets = Sockets::bind("127.0.0.1:0".parse().unwrap(), wake).unwrap();
        let to = sockets.local_addr();
        let camera = UdpSocket::bind("127.0.0.1:0").unwrap();
        let viewer = UdpSocket::bind("127.0.0.1:0").unwrap();
        Setup { sockets, receiver: Receiver::new(), poke, camera, viewer, to }
    }

    /// Waits (a second at most) and reads; returns what came, as (sender, first byte).
    fn pass(setup: &mut Setup, now: Instant) -> Vec<(SocketAddr, u8)> {
        let mut got = Vec::new();
        setup.sockets.wait(now, Some(now + Duration::from_secs(1))).unwrap();
        setup.sockets.read(&mut setup.receiver, now, |from, data| got.push((from, data[0])));
        got
    }

    #[test]
    fn the_port_stays_ours() {
        let setup = setup();
        let taken = UdpSocket::bind(setup.to).unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn a_cameras_packets_come_on_its_own_socket_and_carry_the_viewers_feedback() {
        let mut setup = setup();
        let camera_addr = setup.camera.local_addr().unwrap();
        let viewer_addr = setup.viewer.local_addr().unwrap();
        setup.sockets.follow([camera_addr].into_iter());
        assert!(setup.sockets.cameras[0].socket.is_some());

        // Before any camera packet, a viewer's datagram wakes the thread.
        let now = Instant::now();
        setup.viewer.send_to(&[1], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now), [(viewer_addr, 1)]);

        // The camera's packet arrives on its own socket, and the pass reads the shared one too.
        setup.camera.send_to(&[2], setup.to).unwrap();
        setup.viewer.send_to(&[3], setup.to).unwrap();
        assert!(setup.sockets.cameras[0].socket.as_ref().unwrap().peek_from(&mut [0; 4]).is_ok());
        assert_eq!(pass(&mut setup, now), [(camera_addr, 2), (viewer_addr, 3)]);

        // Now a viewer's datagram waits: the wait ends at the feedback delay without it...
        setup.viewer.send_to(&[4], setup.to).unwrap();
        let woken = setup.sockets.wait(now, None).unwrap();
        assert!(!woken);
        let mut got = Vec::new();
        setup.sockets.read(&mut setup.receiver, now, |from, data| got.push((from, data[0])));
        assert_eq!(got, []);
        // ...unless a camera packet comes first, which brings it along.
        setup.camera.send_to(&[5], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now), [(camera_addr, 5), (viewer_addr, 4)]);

        // With no camera packet within the delay, the shared socket is waited on again.
        setup.viewer.send_to(&[6], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now + FEEDBACK_DELAY), [(viewer_addr, 6)]);
    }

    #[test]
    fn a_poke_ends_the_wait_and_is_taken() {
        let mut setup = setup();
        setup.poke.send(&[1]).unwrap();
        setup.poke.send(&[1]).unwrap();
        let now = Instant::now();
        assert!(setup.sockets.wait(now, None).unwrap());
        // Both pokes were read: the next wait runs to its deadline.
        assert!(!setup.sockets.wait(now, Some(now)).unwrap());
    }

    #[test]
    fn a_camera_gone_or_moved_is_back_on_the_shared_socket() {
        let mut setup = setup();
        let camera_addr = setup.camera.local_addr().unwrap();
        let moved = UdpSocket::bind("127.0.0.1:0").unwrap();
        setup.sockets.follow([camera_addr, camera_addr].into_iter());
        assert_eq!(setup.sockets.cameras.len(), 1);

        setup.sockets.follow([moved.local_addr().unwrap()].into_iter());
        assert_eq!(setup.sockets.cameras.len(), 1);
        assert_eq!(setup.sockets.cameras[0].peer, moved.local_addr().unwrap());
        let now = Instant::now();
        setup.camera.send_to(&[1], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now), [(camera_addr, 1)]);

        setup.sockets.follow(std::iter::empty());
        assert!(setup.sockets.cameras.is_empty());
        moved.send_to(&[2], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now), [(moved.local_addr().unwrap(), 2)]);
    }

    #[test]
    fn a_full_batch_keeps_the_shared_socket_waited_on() {
        let mut setup = setup();
        setup.sockets.follow([setup.camera.local_addr().unwrap()].into_iter());
        for i in 0..READ_BATCH + 1 {
            setup.viewer.send_to(&[i as u8], setup.to).unwrap();
        }
        setup.camera.send_to(&[0], setup.to).unwrap();
        let now = Instant::now();
        assert_eq!(pass(&mut setup, now).len(), 1 + READ_BATCH);
        assert_eq!(setup.sockets.quiet_until, None);
        assert_eq!(pass(&mut setup, now).len(), 1);
    }
}
