// The live page: plays the stream over WHEP, follows its live events (SSE) and opens the order
// sheet. Plain JavaScript, no framework: a buyer on a cheap phone over a slow link downloads a few
// KB. Without it the page still shows the product and links to its order page.
"use strict";
(() => {
  const root = document.getElementById("live");
  if (!root) return;
  const d = root.dataset;
  const $ = (id) => document.getElementById(id);
  const video = $("live-video");
  const notice = $("live-notice");
  const badge = $("live-badge");
  const sound = $("live-sound");
  const card = $("live-card");
  const buy = $("card-buy");
  const sheet = $("order-sheet");
  const frame = $("sheet-frame");
  const fill = (template, value) => template.replace("{}", value);

  let status = d.status;
  /** The buyer's own connection is down, or being replaced. */
  let lineDown = false;
  /** The picture has stood still for `STALL_MS` on a connection that holds. */
  let stalled = false;
  let featured = null;
  let pc = null;
  let session = null;
  let attempt = 0;
  let retryTimer = 0;
  let graceTimer = 0;
  let stallTimer = 0;
  /** How long the picture may stand still on a connection that holds before the page says so. */
  const STALL_MS = 3000;

  /** A camera is connected (its picture may have stopped): the player stays connected. */
  const onAir = () => status === "live" || status === "interrupted";

  /**
   * Shows the most telling thing the page knows, or nothing. The buyer's own line comes before
   * the farmer's: it is the one the buyer can do something about.
   */
  function showNotice() {
    let text = "";
    if (status === "ended") text = d.tEnded;
    else if (status === "waiting") text = fill(d.tWaiting, d.farmer);
    else if (!window.RTCPeerConnection) text = d.tUnsupported;
    else if (lineDown) text = d.tReconnecting;
    else if (status === "interrupted") text = fill(d.tInterrupted, d.farmer);
    else if (stalled) text = fill(d.tStalled, d.farmer);
    notice.textContent = text;
    notice.hidden = !text;
  }

  // --- The player (WHEP) ----------------------------------------------------------------------

  function setStatus(next) {
    status = next;
    badge.hidden = !onAir();
    if (onAir()) {
      if (!pc) connect();
    } else {
      disconnect();
      lineDown = false;
      if (next === "ended") {
        events.close();
        clearInterval(watchdog);
      }
    }
    showNotice();
  }

  async function connect() {
    if (!window.RTCPeerConnection) {
      showNotice();
      return;
    }
    clearTimeout(retryTimer);
    const peer = new RTCPeerConnection();
    pc = peer;
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.addTransceiver("audio", { direction: "recvonly" });
    // Every track of this connection goes into one stream: a relay may give the audio and the
    // video different stream ids, and showing the last track's stream would lose the picture.
    const tracks = new MediaStream();
    peer.ontrack = (event) => {
      tracks.addTrack(event.track);
      if (video.srcObject !== tracks) video.srcObject = tracks;
    };
    peer.onconnectionstatechange = () => {
      if (peer !== pc) return;
      clearTimeout(graceTimer);
      const state = peer.connectionState;
      if (state === "connected") {
        attempt = 0;
        lineDown = false;
        watchPicture(peer);
        showNotice();
        sound.hidden = !video.muted;
      } else if (state === "failed") {
        reconnect();
      } else if (state === "disconnected") {
        // The picture has stopped: say so now. A phone switching networks often recovers by
        // itself within a few seconds, so the connection gets those before it is replaced.
        lineDown = true;
        showNotice();
        graceTimer = setTimeout(() => peer === pc && peer.connectionState !== "connected" && reconnect(), 4000);
      }
    };
    try {
      await peer.setLocalDescription(await peer.createOffer());
      // The relay is ICE-lite on a known address: it needs none of our candidates, so the offer
      // goes at once instead of after gathering.
      const response = await fetch(`/api/v1/streams/${d.stream}/whep`, {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: peer.localDescription.sdp,
      });
      if (response.status !== 201) throw new Error(`WHEP answered ${response.status}`);
      if (peer !== pc) return;
      session = response.headers.get("Location");
      await peer.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (error) {
      if (peer === pc) reconnect();
    }
  }

  // A picture that stops while the connection holds: when the farmer's uplink dropped, the
  // server says so (status "interrupted", about 2 s after the last packet reached it), over the
  // event stream. When the buyer's own line is down, that news cannot come, and the connection
  // reports the loss only later (Chromium takes about 7 s). So the page watches the packets
  // itself too and says the picture stopped rather than leave a frozen frame, naming no cause it
  // cannot know. It looks only once packets have come, so a stream that has not started is not
  // "stopped".
  function watchPicture(peer) {
    let packets = 0;
    let movedAt = Date.now();
    stalled = false;
    clearInterval(stallTimer);
    stallTimer = setInterval(async () => {
      if (peer !== pc || peer.connectionState !== "connected") return;
      const stats = await peer.getStats().catch(() => null);
      if (!stats || peer !== pc || peer.connectionState !== "connected") return;
      let now = 0;
      stats.forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "video") now = report.packetsReceived;
      });
      if (now !== packets) {
        packets = now;
        movedAt = Date.now();
        if (stalled) {
          stalled = false;
          showNotice();
        }
      } else if (packets > 0 && !stalled && Date.now() - movedAt >= STALL_MS) {
        stalled = true;
        showNotice();
      }
    }, 1000);
  }

  function disconnect() {
    clearTimeout(retryTimer);
    clearTimeout(graceTimer);
    clearInterval(stallTimer);
    stalled = false;
    if (pc) pc.close();
    pc = null;
    if (session) fetch(session, { method: "DELETE", keepalive: true }).catch(() => {});
    session = null;
  }

  /** Starts over after a growing pause, for as long as a camera is connected. */
  function reconnect() {
    disconnect();
    if (!onAir()) return;
    lineDown = true;
    showNotice();
    const pause = Math.min(8000, 500 * 2 ** attempt++);
    retryTimer = setTimeout(() => onAir() && !pc && connect(), pause);
  }

  sound.addEventListener("click", () => {
    video.muted = false;
    video.play().catch(() => {});
    sound.hidden = true;
  });
  // Browsers start muted video on their own; sound needs the buyer's tap.
  video.addEventListener("playing", () => {
    sound.hidden = !video.muted;
  });
  window.addEventListener("pagehide", disconnect);

  // --- Live events (SSE) ----------------------------------------------------------------------

  function setFeatured(next) {
    featured = next;
    card.hidden = !next;
    if (!next) return;
    $("card-title").textContent = next.title;
    $("card-price").textContent = next.price_text;
    const photo = $("card-photo");
    photo.hidden = !next.photo_url;
    if (next.photo_url) photo.src = next.photo_url.replace(/\.jpg$/, "-thumb.jpg");
    buy.href = next.order_url.replace("&embed=1", "");
    setStock(next);
  }

  function setStock(stock) {
    if (!featured || stock.listing_id !== featured.listing_id) return;
    Object.assign(featured, stock);
    $("card-stock").textContent = stock.stock_text;
    buy.setAttribute("aria-disabled", String(!stock.on_sale));
  }

  /**
   * How long the live events may stay silent before their connection counts as dead: the server
   * sends a heartbeat after 5 s of quiet, so two missed ones and some slack (as the app does).
   */
  const STALE_AFTER_MS = 12000;
  let events = null;
  let heardAt = 0;

  function follow() {
    events = new EventSource(`/api/v1/streams/${d.stream}/events?lang=${encodeURIComponent(d.lang)}`);
    heardAt = Date.now();
    const on = (name, handle) =>
      events.addEventListener(name, (event) => {
        heardAt = Date.now();
        handle(JSON.parse(event.data));
      });
    on("state", (state) => {
      setFeatured(state.featured);
      $("live-viewers").textContent = fill(d.tWatching, state.viewers);
      $("live-orders").textContent = fill(d.tOrders, state.orders);
      setStatus(state.status);
    });
    on("status", (event) => setStatus(event.status));
    on("featured", (event) => setFeatured(event.featured));
    on("stock", setStock);
    on("viewers", (event) => ($("live-viewers").textContent = fill(d.tWatching, event.count)));
    on("orders", (event) => ($("live-orders").textContent = fill(d.tOrders, event.count)));
    on("heartbeat", () => {});
  }

  follow();
  // A connection can die without a word: a phone that loses coverage keeps its half open and
  // hears nothing more, even after coverage returns, so the card would show an old price or
  // stock. Only the silence tells; a new connection starts again from the stream's state.
  const watchdog = setInterval(() => {
    if (Date.now() - heardAt < STALE_AFTER_MS) return;
    events.close();
    follow();
  }, 1000);

  // --- The order sheet ------------------------------------------------------------------------

  buy.addEventListener("click", (event) => {
    if (!featured || !sheet.showModal) return; // No <dialog>: follow the link to the order page.
    event.preventDefault();
    if (!featured.on_sale) return;
    frame.src = featured.order_url;
    sheet.showModal();
  });
  $("sheet-close").addEventListener("click", () => {
    sheet.close();
    frame.removeAttribute("src");
  });
})();
