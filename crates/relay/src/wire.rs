//! Datagrams on and off the wire with as few passes through the kernel as possible, and no
//! allocation per pass: the relay thread sends and reads on every wake-up, and at a few viewers
//! a wake-up's fixed costs are most of what a packet costs (ARCHITECTURE.md, the relay).
//!
//! A flush of the relay leaves several packets for each viewer back to back (a video frame is a
//! few packets of the same size). [`messages`] groups such runs into one message each, which the
//! kernel splits into datagrams itself (UDP generic segmentation offload, `UDP_SEGMENT`): the
//! network stack then does its per-datagram work (routing, filtering, queueing) once per run.
//! [`Sender::send`] hands every message of a batch to the kernel with one `sendmmsg(2)` per
//! segment size, and [`Receiver::read`] takes what a socket has queued with one `recvmmsg(2)`.
//! Elsewhere than Linux they send and read one datagram per call.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use nix::errno::Errno;

use crate::sfu::Transmit;

/// Datagrams one message may carry (the kernel's limit is 64).
const MAX_SEGMENTS: usize = 64;
/// Bytes one message may carry: the largest UDP payload over IPv6, which is the smaller limit.
const MAX_MESSAGE_BYTES: usize = 65_527 - 40;
/// Messages, and datagrams in them, one `sendmmsg(2)` takes at most: a batch beyond it takes
/// more calls.
const MAX_PER_CALL: usize = 256;
/// Datagrams one [`Receiver::read`] takes at most.
pub const READ_BATCH: usize = 64;
/// The room for one datagram read. Media is kept under the path MTU, so anything longer is
/// not the relay's and is cut short (and then refused by the core).
const MAX_DATAGRAM: usize = 2048;

/// Consecutive datagrams of a batch to one destination, sent as one message: `batch[first..][..count]`.
/// With more than one datagram, all but the last are `segment` bytes and the last no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub first: usize,
    pub count: usize,
    pub segment: usize,
}

impl Message {
    /// The segment size to ask the kernel for, when it has anything to split.
    fn gso(&self) -> Option<u16> {
        if self.count > 1 { u16::try_from(self.segment).ok() } else { None }
    }
}

/// Groups `batch` into messages, in order, replacing what `out` held. Without `gso` every
/// datagram is a message of its own.
pub fn messages(batch: &[Transmit], gso: bool, out: &mut Vec<Message>) {
    out.clear();
    let mut bytes = 0;
    for (i, transmit) in batch.iter().enumerate() {
        let len = transmit.data.len();
        if let Some(last) = out.last_mut() {
            let open = batch[last.first + last.count - 1].data.len() == last.segment;
            let fits = last.count < MAX_SEGMENTS && bytes + len <= MAX_MESSAGE_BYTES && len <= last.segment;
            if gso && open && fits && batch[last.first].to == transmit.to && len > 0 {
                last.count += 1;
                bytes += len;
                continue;
            }
        }
        out.push(Message { first: i, count: 1, segment: len });
        bytes = len;
    }
}

/// How long a full socket buffer may hold a sender up before the rest of its batch is dropped:
/// media this late is useless, and the relay's loop has other viewers and the camera to serve.
const WRITABLE_WAIT: Duration = Duration::from_millis(50);

/// Waits until `socket`'s send buffer has room, for `WRITABLE_WAIT` (50 ms) at most: what
/// [`Sender::send`] is given to wait with, on a socket of the relay's.
pub fn wait_writable(socket: &UdpSocket) -> io::Result<()> {
    use std::os::fd::AsFd;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
    let timeout = PollTimeout::try_from(WRITABLE_WAIT).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout)? {
        0 => Err(io::ErrorKind::TimedOut.into()),
        _ => Ok(()),
    }
}

/// What became of a batch: datagrams the kernel took and datagrams it refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: u64,
    pub errors: u64,
}

/// Sends batches of datagrams, keeping the system call's headers and its own lists between
/// batches.
pub struct Sender {
    /// Whether the kernel segments for us: until it refuses, on Linux.
    gso: bool,
    messages: Vec<Message>,
    group: Vec<Message>,
    sizes: Vec<Option<u16>>,
    #[cfg(target_os = "linux")]
    headers: Headers,
}

impl Default for Sender {
    fn default() -> Sender {
        Sender::new()
    }
}

impl Sender {
    pub fn new() -> Sender {
        Sender {
            gso: cfg!(target_os = "linux"),
            messages: Vec::new(),
            group: Vec::new(),
            sizes: Vec::new(),
            #[cfg(target_os = "linux")]
            headers: Headers::new(),
        }
    }

    /// Whether messages still go out segmented.
    pub fn segmenting(&self) -> bool {
        self.gso
    }

    /// Sends every datagram of `batch` on a non-blocking socket, waiting with `wait_writable`
    /// when its buffer is full. An error concerns one message (an unreachable destination) and
    /// is counted, never fatal. When the kernel refuses segmentation (a device or route that
    /// cannot do it), segmentation is switched off and the message goes again datagram by datagram.
    pub fn send(&mut self, socket: &UdpSocket, batch: &[Transmit], wait_writable: &mut dyn FnMut() -> io::Result<()>) -> Sent {
        let mut sent = Sent::default();
        messages(batch, self.gso, &mut self.messages);
        // One system call per segment size; order is kept within a size, which is what keeps each
        // destination's packets of one stream in order (they share a size, or end a run).
        self.sizes.clear();
        for message in &self.messages {
            if !self.sizes.contains(&message.gso()) {
                self.sizes.push(message.gso());
            }
        }
        for s in 0..self.sizes.len() {
            let size = self.sizes[s];
            self.group.clear();
            self.group.extend(self.messages.iter().filter(|m| m.gso() == size));
            let mut next = 0;
            while next < self.group.len() {
                match self.send_messages(socket, batch, next, size) {
                    Ok(n) => {
                        sent.datagrams += self.group[next..next + n].iter().map(|m| m.count as u64).sum::<u64>();
                        next += n;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        if wait_writable().is_err() {
                            sent.errors += self.group[next..].iter().map(|m| m.count as u64).sum::<u64>();
                            break;
                        }
                    }
                    Err(error) if size.is_some() && [Errno::EIO as i32, Errno::EINVAL as i32].contains(&error.raw_os_error().unwrap_or(0)) => {
                        tracing::info!(%error, "the kernel refused UDP segmentation; sending datagram by datagram");
                        self.gso = false;
                        let message = self.group[next];
                        // The rest of this group goes after the refused message, with lists of its own.
                        let rest = Sender { gso: false, ..Sender::new() }.send(socket, &batch[message.first..message.first + message.count], wait_writable);
                        sent.datagrams += rest.datagrams;
                        sent.errors += rest.errors;
                        next += 1;
                    }
                    // The first message of the rest failed: skip it.
                    Err(_) => {
                        sent.errors += self.group[next].count as u64;
                        next += 1;
                    }
                }
            }
        }
        sent
    }

    /// Sends messages of the group from `next` on with one `sendmmsg(2)`, as many as one call
    /// takes; returns how many went (at least one, or an error about the first).
    #[cfg(target_os = "linux")]
    fn send_messages(&mut self, socket: &UdpSocket, batch: &[Transmit], next: usize, gso: Option<u16>) -> io::Result<usize> {
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrStorage, sendmmsg};

        // The messages that fit in one call, their datagrams laid out one after another.
        let mut slices = [IoSlice::new(&[]); MAX_PER_CALL];
        let mut runs: [&[IoSlice<'_>]; MAX_PER_CALL] = [&[]; MAX_PER_CALL];
        let (mut messages, mut datagrams) = (0, 0);
        self.headers.addrs.clear();
        for message in &self.group[next..] {
            if messages == MAX_PER_CALL || datagrams + message.count > MAX_PER_CALL {
                break;
            }
            for (slot, transmit) in slices[datagrams..].iter_mut().zip(&batch[message.first..message.first + message.count]) {
                *slot = IoSlice::new(&transmit.data);
            }
            self.headers.addrs.push(Some(SockaddrStorage::from(batch[message.first].to)));
            datagrams += message.count;
            messages += 1;
        }
        let mut start = 0;
        for (run, message) in runs.iter_mut().zip(&self.group[next..next + messages]) {
            *run = &slices[start..start + message.count];
            start += message.count;
        }
        let Headers { segmented, plain, addrs } = &mut self.headers;
        let count = match gso {
            Some(segment) => {
                let cmsgs = [ControlMessage::UdpGsoSegments(&segment)];
                sendmmsg(socket.as_raw_fd(), segmented, &runs[..messages], &*addrs, cmsgs, MsgFlags::empty())?.count()
            }
            None => {
                let none: [ControlMessage<'_>; 0] = [];
                sendmmsg(socket.as_raw_fd(), plain, &runs[..messages], &*addrs, none, MsgFlags::empty())?.count()
            }
        };
        Ok(count)
    }

    /// Elsewhere, one `send_to` per datagram (and [`messages`] is only ever asked for singles).
    #[cfg(not(target_os = "linux"))]
    fn send_messages(&mut self, socket: &UdpSocket, batch: &[Transmit], next: usize, _gso: Option<u16>) -> io::Result<usize> {
        let transmit = &batch[self.group[next].first];
        socket.send_to(&transmit.data, transmit.to).map(|_| 1)
    }
}

/// `sendmmsg(2)`'s headers, made once: with room for the segment size's control message, for
/// segmented messages, and without, for single datagrams (a header keeps the control message
/// it was last given, so the two cannot share).
#[cfg(target_os = "linux")]
struct Headers {
    segmented: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    plain: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    addrs: Vec<Option<nix::sys::socket::SockaddrStorage>>,
}

#[cfg(target_os = "linux")]
impl Headers {
    fn new() -> Headers {
        use nix::sys::socket::MultiHeaders;
        Headers {
            segmented: MultiHeaders::preallocate(MAX_PER_CALL, Some(nix::cmsg_space!(u16))),
            plain: MultiHeaders::preallocate(MAX_PER_CALL, None),
            addrs: Vec::with_capacity(MAX_PER_CALL),
        }
    }
}

/// Reads what sockets have queued, into buffers kept between reads.
pub struct Receiver {
    buf: Vec<u8>,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

impl Default for Receiver {
    fn default() -> Receiver {
        Receiver::new()
    }
}

impl Receiver {
    pub fn new() -> Receiver {
        Receiver {
            buf: vec![0; READ_BATCH * MAX_DATAGRAM],
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(READ_BATCH, None),
        }
    }

    /// Hands up to [`READ_BATCH`] datagrams queued on the non-blocking `socket` to `handle`, with
    /// their senders; returns how many. Fewer than the batch means the socket was read out.
    #[cfg(target_os = "linux")]
    pub fn read(&mut self, socket: &UdpSocket, handle: &mut impl FnMut(SocketAddr, &[u8])) -> usize {
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{MsgFlags, SockaddrStorage, recvmmsg};

        let mut got = [(0usize, None::<SocketAddr>); READ_BATCH];
        let mut read = 0;
        // A UDP read error (an ICMP report surfacing) concerns one peer, never the socket, and
        // is taken by the call that reports it: try again, a few times at most.
        for _ in 0..4 {
            let mut rooms = self.buf.chunks_mut(MAX_DATAGRAM);
            let mut slices: [[IoSliceMut<'_>; 1]; READ_BATCH] = std::array::from_fn(|_| [IoSliceMut::new(rooms.next().unwrap_or_default())]);
            // The kernel writes each sender's address length back into its header, and the
            // headers are reused: that is sound because one socket's senders all have the same
            // address length (a dual-stack socket reports IPv4 senders as mapped IPv6 ones).
            match recvmmsg(socket.as_raw_fd(), &mut self.headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
                Ok(results) => {
                    for (slot, message) in got.iter_mut().zip(results) {
                        let from = message.address.as_ref().and_then(|a: &SockaddrStorage| {
                            a.as_sockaddr_in().map(|a| SocketAddr::from(*a)).or_else(|| a.as_sockaddr_in6().map(|a| SocketAddr::from(*a)))
                        });
                        *slot = (message.bytes.min(MAX_DATAGRAM), from);
                        read += 1;
                    }
                    break;
                }
                Err(Errno::EAGAIN) => break,
                Err(error) => tracing::debug!(%error, "relay socket read"),
            }
        }
        for ((len, from), data) in got[..read].iter().zip(self.buf.chunks(MAX_DATAGRAM)) {
            if let Some(from) = from {
                handle(*from, &data[..*len]);
            }
        }
        read
    }

    /// Elsewhere, one `recv_from` per datagram.
    #[cfg(not(target_os = "linux"))]
    pub fn read(&mut self, socket: &UdpSocket, handle: &mut impl FnMut(SocketAddr, &[u8])) -> usize {
        let mut read = 0;
        while read < READ_BATCH {
            match socket.recv_from(&mut self.buf[..MAX_DATAGRAM]) {
                Ok((n, from)) => {
                    read += 1;
                    handle(from, &self.buf[..n]);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => tracing::debug!(%error, "relay socket read"),
            }
        }
        read
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    fn t(to: u16, len: usize) -> Transmit {
        Transmit { to: SocketAddr::from(([127, 0, 0, 1], to)), data: vec![0; len] }
    }

    fn shape(batch: &[Transmit], gso: bool) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        messages(batch, gso, &mut out);
        out.iter().map(|m| (m.first, m.count, m.segment)).collect()
    }

    #[test]
    fn a_frame_to_each_viewer_is_one_message_each() {
        let batch = [t(1, 1136), t(1, 1136), t(1, 700), t(2, 1136), t(2, 1136), t(2, 700)];
        assert_eq!(shape(&batch, true), [(0, 3, 1136), (3, 3, 1136)]);
    }

    #[test]
    fn a_smaller_datagram_ends_a_run_and_a_larger_one_starts_another() {
        let batch = [t(1, 1136), t(1, 90), t(1, 1136), t(1, 1200), t(1, 1200)];
        assert_eq!(shape(&batch, true), [(0, 2, 1136), (2, 1, 1136), (3, 2, 1200)]);
    }

    #[test]
    fn without_segmentation_every_datagram_goes_alone() {
        let batch = [t(1, 1136), t(1, 1136), t(2, 1136)];
        assert_eq!(shape(&batch, false), [(0, 1, 1136), (1, 1, 1136), (2, 1, 1136)]);
    }

    #[test]
    fn runs_stop_at_the_kernels_limits() {
        let many: Vec<Transmit> = (0..70).map(|_| t(1, 100)).collect();
        assert_eq!(shape(&many, true), [(0, 64, 100), (64, 6, 100)]);
        let big: Vec<Transmit> = (0..60).map(|_| t(1, 1400)).collect();
        let mut runs = Vec::new();
        messages(&big, true, &mut runs);
        assert!(runs.iter().all(|m| m.count * m.segment <= MAX_MESSAGE_BYTES), "{runs:?}");
        assert_eq!(runs.iter().map(|m| m.count).sum::<usize>(), 60);
    }

    /// The kernel splits what [`send`] groups back into the datagrams it was given.
    #[test]
    fn datagrams_arrive_as_they_were_queued() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.set_nonblocking(true).unwrap();
        let to = receiver.local_addr().unwrap();
        let lens = [1136, 1136, 1136, 500, 90, 1136, 1136];
        let batch: Vec<Transmit> =
            lens.iter().enumerate().map(|(i, len)| Transmit { to, data: std::iter::repeat_n(i as u8, *len).collect() }).collect();
        let mut wire = Sender::new();
        let sent = wire.send(&sender, &batch, &mut || Ok(()));
        assert_eq!(sent, Sent { datagrams: lens.len() as u64, errors: 0 });
        assert_eq!(wire.segmenting(), cfg!(target_os = "linux"), "the kernel took the segmented messages");
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        for _ in 0..lens.len() {
            let n = receiver.recv(&mut buf).unwrap();
            got.push((buf[0], n));
        }
        got.sort();
        let want: Vec<(u8, usize)> = lens.iter().enumerate().map(|(i, len)| (i as u8, *len)).collect();
        assert_eq!(got, want);
    }
    /// More messages than one `sendmmsg(2)` takes go out in several calls, all of them.
    #[test]
    fn a_batch_longer_than_one_call_goes_out_whole() {
        let receivers: Vec<UdpSocket> = (0..3).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.set_nonblocking(true).unwrap();
        // Destinations alternate, so every datagram is a message of its own: 300 of them.
        let batch: Vec<Transmit> = (0..300).map(|i| Transmit { to: receivers[i % 3].local_addr().unwrap(), data: vec![i as u8; 100] }).collect();
        let sent = Sender::new().send(&sender, &batch, &mut || Ok(()));
        assert_eq!(sent, Sent { datagrams: 300, errors: 0 });
        for (r, receiver) in receivers.iter().enumerate() {
            receiver.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 200];
            let got: Vec<u8> = (0..100)
                .map(|_| {
                    assert_eq!(receiver.recv(&mut buf).unwrap(), 100);
                    buf[0]
                })
                .collect();
            let want: Vec<u8> = (0..300).filter(|i| i % 3 == r).map(|i| i as u8).collect();
            assert_eq!(got, want, "receiver {r}");
        }
    }

    /// A read takes at most a batch, each datagram whole and with its sender, and a socket read
    /// out reads nothing.
    #[test]
    fn a_read_takes_a_batch_with_each_sender() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let to = socket.local_addr().unwrap();
        let senders = [UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap()];
        let total = READ_BATCH + 6;
        for i in 0..total {
            senders[i % 2].send_to(&vec![i as u8; 1 + i * 10], to).unwrap();
        }
        let mut receiver = Receiver::new();
        let mut got = Vec::new();
        let mut take = |receiver: &mut Receiver| receiver.read(&socket, &mut |from, data: &[u8]| got.push((from, data.to_vec())));
        assert_eq!(take(&mut receiver), READ_BATCH);
        assert_eq!(take(&mut receiver), 6);
        assert_eq!(take(&mut receiver), 0);
        let want: Vec<(SocketAddr, Vec<u8>)> = (0..total).map(|i| (senders[i % 2].local_addr().unwrap(), vec![i as u8; 1 + i * 10])).collect();
        assert_eq!(got, want);
    }

    /// IPv6 senders' addresses come whole, on a socket that has had IPv4-mapped ones before.
    #[test]
    fn a_dual_stack_socket_reports_every_sender_whole() {
        let Ok(socket) = UdpSocket::bind("[::]:0") else { return }; // No IPv6 here: nothing to check.
        let port = socket.local_addr().unwrap().port();
        socket.set_nonblocking(true).unwrap();
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let Ok(v6) = UdpSocket::bind("[::1]:0") else { return };
        let mut receiver = Receiver::new();
        let mut got = Vec::new();
        for (sender, to) in [(&v4, SocketAddr::from(([127, 0, 0, 1], port))), (&v6, SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)))] {
            sender.send_to(b"hello", to).unwrap();
            let mut fds = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&socket), nix::poll::PollFlags::POLLIN)];
            assert_eq!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap(), 1, "nothing came from {to}");
            assert_eq!(receiver.read(&socket, &mut |from, data: &[u8]| got.push((from, data.to_vec()))), 1);
        }
        let mapped = match v4.local_addr().unwrap() {
            SocketAddr::V4(a) => SocketAddr::from((a.ip().to_ipv6_mapped(), a.port())),
            other => other,
        };
        assert_eq!(got, [(mapped, b"hello".to_vec()), (v6.local_addr().unwrap(), b"hello".to_vec())]);
    }
}
