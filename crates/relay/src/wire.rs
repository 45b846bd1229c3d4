//! Putting a batch of datagrams on the wire with as few passes through the kernel as possible.
//!
//! A flush of the relay leaves several packets for each viewer back to back (a video frame is a
//! few packets of the same size). [`messages`] groups such runs into one message each, which the
//! kernel splits into datagrams itself (UDP generic segmentation offload, `UDP_SEGMENT`): the
//! network stack then does its per-datagram work (routing, filtering, queueing) once per run.
//! [`send`] hands every message of a batch to the kernel with one `sendmmsg(2)` per segment size.
//! Elsewhere than Linux it sends one datagram per call.

use std::io;
use std::net::UdpSocket;

use nix::errno::Errno;

use crate::sfu::Transmit;

/// Datagrams one message may carry (the kernel's limit is 64).
const MAX_SEGMENTS: usize = 64;
/// Bytes one message may carry: the largest UDP payload over IPv6, which is the smaller limit.
const MAX_MESSAGE_BYTES: usize = 65_527 - 40;

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

/// Groups `batch` into messages, in order. Without `gso` every datagram is a message of its own.
pub fn messages(batch: &[Transmit], gso: bool) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
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
    out
}

/// What became of a batch: datagrams the kernel took and datagrams it refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: u64,
    pub errors: u64,
}

/// Sends every datagram of `batch` on a non-blocking socket, waiting with `wait_writable` when
/// its buffer is full. An error concerns one message (an unreachable destination) and is
/// counted, never fatal. When the kernel refuses segmentation (a device or route that cannot
/// do it), `gso` is switched off and the message goes again datagram by datagram.
pub fn send(socket: &UdpSocket, batch: &[Transmit], gso: &mut bool, wait_writable: &mut dyn FnMut() -> io::Result<()>) -> Sent {
    let mut sent = Sent::default();
    let all = messages(batch, *gso);
    // One system call per segment size; order is kept within a size, which is what keeps each
    // destination's packets of one stream in order (they share a size, or end a run).
    let mut sizes: Vec<Option<u16>> = Vec::new();
    for message in &all {
        if !sizes.contains(&message.gso()) {
            sizes.push(message.gso());
        }
    }
    for size in sizes {
        let group: Vec<Message> = all.iter().filter(|m| m.gso() == size).copied().collect();
        let mut next = 0;
        while next < group.len() {
            match send_messages(socket, batch, &group[next..], size) {
                Ok(n) => {
                    sent.datagrams += group[next..next + n].iter().map(|m| m.count as u64).sum::<u64>();
                    next += n;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if wait_writable().is_err() {
                        sent.errors += group[next..].iter().map(|m| m.count as u64).sum::<u64>();
                        break;
                    }
                }
                Err(error) if size.is_some() && [Errno::EIO as i32, Errno::EINVAL as i32].contains(&error.raw_os_error().unwrap_or(0)) => {
                    tracing::info!(%error, "the kernel refused UDP segmentation; sending datagram by datagram");
                    *gso = false;
                    let message = group[next];
                    let rest = send(socket, &batch[message.first..message.first + message.count], gso, wait_writable);
                    sent.datagrams += rest.datagrams;
                    sent.errors += rest.errors;
                    next += 1;
                }
                // The first message of the rest failed: skip it.
                Err(_) => {
                    sent.errors += group[next].count as u64;
                    next += 1;
                }
            }
        }
    }
    sent
}

/// Sends `messages` with one `sendmmsg(2)`; returns how many went (at least one, or an error
/// about the first).
#[cfg(target_os = "linux")]
fn send_messages(socket: &UdpSocket, batch: &[Transmit], messages: &[Message], gso: Option<u16>) -> io::Result<usize> {
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

    let slices: Vec<Vec<IoSlice<'_>>> = messages.iter().map(|m| batch[m.first..m.first + m.count].iter().map(|t| IoSlice::new(&t.data)).collect()).collect();
    let addrs: Vec<Option<SockaddrStorage>> = messages.iter().map(|m| Some(SockaddrStorage::from(batch[m.first].to))).collect();
    let results = match gso {
        Some(segment) => {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(messages.len(), Some(nix::cmsg_space!(u16)));
            let cmsgs = [ControlMessage::UdpGsoSegments(&segment)];
            sendmmsg(socket.as_raw_fd(), &mut headers, &slices, &addrs, cmsgs, MsgFlags::empty())?.count()
        }
        None => {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(messages.len(), None);
            let none: [ControlMessage<'_>; 0] = [];
            sendmmsg(socket.as_raw_fd(), &mut headers, &slices, &addrs, none, MsgFlags::empty())?.count()
        }
    };
    Ok(results)
}

/// Elsewhere, one `send_to` per datagram (and [`messages`] is only ever asked for singles).
#[cfg(not(target_os = "linux"))]
fn send_messages(socket: &UdpSocket, batch: &[Transmit], messages: &[Message], _gso: Option<u16>) -> io::Result<usize> {
    let transmit = &batch[messages[0].first];
    socket.send_to(&transmit.data, transmit.to).map(|_| 1)
}

/// Whether this platform can segment.
pub const GSO_AVAILABLE: bool = cfg!(target_os = "linux");

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    fn t(to: u16, len: usize) -> Transmit {
        Transmit { to: SocketAddr::from(([127, 0, 0, 1], to)), data: vec![0; len] }
    }

    fn shape(batch: &[Transmit], gso: bool) -> Vec<(usize, usize, usize)> {
        messages(batch, gso).iter().map(|m| (m.first, m.count, m.segment)).collect()
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
        let runs = messages(&big, true);
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
        let mut gso = GSO_AVAILABLE;
        let sent = send(&sender, &batch, &mut gso, &mut || Ok(()));
        assert_eq!(sent, Sent { datagrams: lens.len() as u64, errors: 0 });
        assert_eq!(gso, GSO_AVAILABLE, "the kernel took the segmented messages");
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
}
