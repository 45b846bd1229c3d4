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

/// How long a viewer's datagram may wait for a camera packet to be read with. Longer than a
/// video frame's gap at 15 frames a second, so a camera without audio still carries the
/// feedback; short against the round trips a NACK and a keyframe request are worth.
pub const FEEDBACK_DELAY: Duration = Duration::from_millis(100);
/// Datagrams read from one socket in one go before the loop looks at its other inputs again.
const READ_BATCH: usize = 64;
/// Whether this system delivers a connected socket's datagrams to it, ahead of the bound one.
const SPLIT: bool = cfg!(target_os = "linux");

/// The shared socket and the cameras' sockets.
pub struct Sockets {
    shared: UdpSocket,
    local: SocketAddr,
    cameras: Vec<Camera>,
    /// Until when the shared socket is left out of the wait: the last camera pass plus
    /// [`FEEDBACK_DELAY`]. `None` when the last read of it stopped before it was empty.
    quiet_until: Option<Instant>,
    shared_ready: bool,
    buf: Vec<u8>,
}

/// A camera's own socket. `socket` is `None` when it could not be made; the camera's packets
/// then come in on the shared socket.
struct Camera {
    peer: SocketAddr,
    socket: Option<UdpSocket>,
    ready: bool,
}

impl Sockets {
    /// Binds the shared socket at `addr` (port 0 picks one).
    pub fn bind(addr: SocketAddr) -> io::Result<Sockets> {
        let shared = UdpSocket::bind(addr)?;
        shared.set_nonblocking(true)?;
        if SPLIT {
            reuse_port(&shared)?;
        }
        let local = shared.local_addr()?;
        Ok(Sockets { shared, local, cameras: Vec::new(), quiet_until: None, shared_ready: false, buf: vec![0; 2048] })
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
    pub fn follow(&mut self, peers: impl Iterator<Item = SocketAddr>) {
        if !SPLIT {
            return;
        }
        let mut wanted: Vec<SocketAddr> = Vec::new();
        let mut same = true;
        for (i, peer) in peers.enumerate() {
            same &= self.cameras.get(i).is_some_and(|camera| camera.peer == peer);
            if !wanted.contains(&peer) {
                wanted.push(peer);
            }
        }
        if same && wanted.len() == self.cameras.len() {
            return;
        }
        self.cameras.retain(|camera| wanted.contains(&camera.peer));
        for peer in wanted.iter() {
            if !self.cameras.iter().any(|camera| camera.peer == *peer) {
                let socket = connected(self.local, *peer).inspect_err(|error| tracing::debug!(%error, %peer, "no socket of its own for a camera")).ok();
                self.cameras.push(Camera { peer: *peer, socket, ready: false });
            }
        }
        // The next call compares in this order, so a set that did not change is found so.
        self.cameras.sort_by_key(|camera| wanted.iter().position(|peer| *peer == camera.peer));
    }

    /// Blocks until a datagram the thread waits for arrives, the wake-up socket is poked, or the
    /// `deadline` passes (never, without one). Reports whether `wake` is readable.
    pub fn wait(&mut self, wake: &UnixDatagram, now: Instant, deadline: Option<Instant>) -> io::Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

        let quiet = self.quiet_until.filter(|at| *at > now);
        let deadline = [deadline, quiet].into_iter().flatten().min();
        // Rounded up to the millisecond poll(2) counts in, so the loop never spins on a deadline
        // a fraction of a millisecond away.
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(at) => PollTimeout::try_from(at.saturating_duration_since(now).as_micros().div_ceil(1000)).unwrap_or(PollTimeout::MAX),
        };
        let mut fds = Vec::with_capacity(2 + self.cameras.len());
        fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
        fds.extend(self.cameras.iter().filter_map(|camera| camera.socket.as_ref()).map(|socket| PollFd::new(socket.as_fd(), PollFlags::POLLIN)));
        if quiet.is_none() {
            fds.push(PollFd::new(self.shared.as_fd(), PollFlags::POLLIN));
        }
        poll(&mut fds, timeout)?;
        let readable: Vec<bool> = fds.iter().map(|fd| fd.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let mut readable = readable.into_iter();
        let woken = readable.next().unwrap_or(false);
        for camera in self.cameras.iter_mut().filter(|camera| camera.socket.is_some()) {
            camera.ready = readable.next().unwrap_or(false);
        }
        self.shared_ready = quiet.is_none() && readable.next().unwrap_or(false);
        Ok(woken)
    }

    /// Hands every datagram the last [`Sockets::wait`] found, with its sender, to `handle`:
    /// the cameras' first, then the shared socket's, which a camera's packet drains as well.
    pub fn read(&mut self, now: Instant, mut handle: impl FnMut(SocketAddr, &[u8])) {
        let shared_ready = std::mem::take(&mut self.shared_ready);
        let mut camera_read = false;
        for camera in &mut self.cameras {
            if let (true, Some(socket)) = (std::mem::take(&mut camera.ready), &camera.socket) {
                camera_read |= drain(socket, &mut self.buf, &mut handle) > 0;
            }
        }
        if camera_read || shared_ready {
            let read = drain(&self.shared, &mut self.buf, &mut handle);
            if camera_read {
                // A full batch means more is waiting: keep waiting on the socket until it is read out.
                self.quiet_until = (read < READ_BATCH).then_some(now + FEEDBACK_DELAY);
            }
        }
    }
}

/// Reads up to [`READ_BATCH`] datagrams from `socket`; returns how many.
fn drain(socket: &UdpSocket, buf: &mut [u8], handle: &mut impl FnMut(SocketAddr, &[u8])) -> usize {
    let mut read = 0;
    while read < READ_BATCH {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                read += 1;
                handle(from, &buf[..n]);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            // A UDP read error (an ICMP report surfacing) concerns one peer, never the socket.
            Err(error) => tracing::debug!(%error, "relay socket read"),
        }
    }
    read
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
        wake: UnixDatagram,
        camera: UdpSocket,
        viewer: UdpSocket,
        to: SocketAddr,
    }

    fn setup() -> Setup {
        let sockets = Sockets::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = sockets.local_addr();
        let (_poke, wake) = UnixDatagram::pair().unwrap();
        let camera = UdpSocket::bind("127.0.0.1:0").unwrap();
        let viewer = UdpSocket::bind("127.0.0.1:0").unwrap();
        Setup { sockets, wake, camera, viewer, to }
    }

    /// Waits (a second at most) and reads; returns what came, as (sender, first byte).
    fn pass(setup: &mut Setup, now: Instant) -> Vec<(SocketAddr, u8)> {
        let mut got = Vec::new();
        setup.sockets.wait(&setup.wake, now, Some(now + Duration::from_secs(1))).unwrap();
        setup.sockets.read(now, |from, data| got.push((from, data[0])));
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
        let woken = setup.sockets.wait(&setup.wake, now, None).unwrap();
        assert!(!woken);
        let mut got = Vec::new();
        setup.sockets.read(now, |from, data| got.push((from, data[0])));
        assert_eq!(got, []);
        // ...unless a camera packet comes first, which brings it along.
        setup.camera.send_to(&[5], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now), [(camera_addr, 5), (viewer_addr, 4)]);

        // With no camera packet within the delay, the shared socket is waited on again.
        setup.viewer.send_to(&[6], setup.to).unwrap();
        assert_eq!(pass(&mut setup, now + FEEDBACK_DELAY), [(viewer_addr, 6)]);
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
