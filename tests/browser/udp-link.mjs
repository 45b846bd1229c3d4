// A weak link for WebRTC tests: a UDP relay between a browser and the server that lets the
// browser's packets through no faster than a set rate, behind a short drop-tail queue, as a
// rural phone's uplink does (a cell's scheduler, or a village router's buffer). The other way,
// server to browser, passes untouched. The rate can change while a test runs, and the link can
// go dead both ways and come back: it degrades and recovers.
//
// The browser is pointed at it by rewriting the candidate in the server's SDP answer
// (`sendThrough`). The server is ICE-lite, so it only ever answers where the browser's packets
// came from, and every packet of the session goes through here. Each browser address gets its
// own socket towards the server, as a NAT would give it.
import dgram from "node:dgram";

/** IPv4 and UDP headers: a link carries them too. */
const HEADER_BYTES = 28;

/**
 * Starts a link; it forwards once `sendThrough` has told it where the server is.
 * `queueMs` is how much the queue holds at the shaped rate before it drops what comes next.
 */
export async function startUdpLink({ queueMs = 250 } = {}) {
  /** The server's UDP candidate, `{ address, port }`. */
  let upstream = null;
  const front = dgram.createSocket("udp4");
  await new Promise((resolve) => front.bind(0, "127.0.0.1", resolve));
  /** Browser address → its socket towards the server. */
  const clients = new Map();
  const stats = { forwarded: 0, dropped: 0, bytes: 0 };
  let rateBps = null;
  let dead = false;
  /** Packets waiting for the link, each with the time it leaves; the link sends one at a time. */
  const queue = [];
  let queuedBytes = 0;
  let lastDeparture = 0;
  let timer = null;

  function client(rinfo) {
    const key = `${rinfo.address}:${rinfo.port}`;
    let socket = clients.get(key);
    if (!socket) {
      socket = dgram.createSocket("udp4");
      socket.bind(0, "127.0.0.1");
      socket.on("message", (message) => {
        if (dead) stats.dropped += 1;
        else front.send(message, rinfo.port, rinfo.address);
      });
      clients.set(key, socket);
    }
    return socket;
  }

  function send(packet) {
    packet.socket.send(packet.message, upstream.port, upstream.address);
    stats.forwarded += 1;
    stats.bytes += packet.message.length;
  }

  function drain() {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].leaves <= now) {
      const packet = queue.shift();
      queuedBytes -= packet.message.length + HEADER_BYTES;
      send(packet);
    }
    if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0].leaves - now));
  }

  front.on("message", (message, rinfo) => {
    if (dead || upstream === null) {
      stats.dropped += 1;
      return;
    }
    const packet = { message, socket: client(rinfo) };
    if (rateBps === null && queue.length === 0) return send(packet);
    const bytes = message.length + HEADER_BYTES;
    if (rateBps !== null && queuedBytes + bytes > (rateBps / 8) * (queueMs / 1000)) {
      stats.dropped += 1;
      return;
    }
    // Without a rate, what is still queued from before goes first, then this right after it.
    const serialization = rateBps === null ? 0 : (bytes * 8 * 1000) / rateBps;
    const now = performance.now();
    packet.leaves = Math.max(now, lastDeparture) + serialization;
    lastDeparture = packet.leaves;
    queue.push(packet);
    queuedBytes += bytes;
    if (timer === null) timer = setTimeout(drain, Math.max(0, queue[0].leaves - now));
  });

  return {
    /** The port the browser is to send to. */
    port: front.address().port,
    stats,
    /** Where the server is: the host candidate of its answer. */
    forwardTo(server) {
      upstream = server;
    },
    /** Bits per second the browser may send from now on; `null` for no limit. */
    setRate(bps) {
      rateBps = bps;
    },
    /** Drops everything both ways while `on`, as when a phone loses coverage. */
    cut(on) {
      dead = on;
    },
    close() {
      if (timer !== null) clearTimeout(timer);
      for (const socket of clients.values()) socket.close();
      front.close();
    },
  };
}

/**
 * Sends a browser context's WebRTC through `link`: every WHIP or WHEP answer the context receives
 * names the link's port instead of the server's, and tells the link where the server is.
 */
export async function sendThrough(context, link) {
  await context.route(/\/(whip|whep)$/, async (route) => {
    const response = await route.fetch();
    const sdp = await response.text();
    if (response.status() !== 201) return route.fulfill({ response, body: sdp });
    link.forwardTo(hostCandidate(sdp));
    await route.fulfill({ response, body: pointCandidatesAt(sdp, link.port) });
  });
}

/** The server's UDP host candidate in an SDP answer. */
function hostCandidate(sdp) {
  const match = /^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host/im.exec(sdp);
  if (!match) throw new Error("the answer has no UDP host candidate");
  return { address: match[1], port: Number(match[2]) };
}

/** The SDP with its UDP host candidates pointed at `port` on the same address. */
function pointCandidatesAt(sdp, port) {
  return sdp.replace(/^(a=candidate:\S+ \d+ udp \d+ \S+ )\d+( typ host)/gim, `$1${port}$2`);
}
