// Live video over weak links, end to end, through a UDP link the test controls (udp-link.mjs):
// - the farmer's uplink squeezed to 150 kbit/s and later freed, while a buyer watches over an
//   unshaped path: the camera must step down the quality ladder from its own stats, stay
//   watchable on the bottom rung, and climb back to the top rung once the link recovers (the
//   rules themselves are unit-tested in ui/src/live/uplink.test.ts);
// - a buyer's link going dead and coming back: the live page must say so and reconnect by itself;
// - the farmer's link going dead for a moment: buyers are told it is the farmer's line (the server
//   says so), the farmer's screen says buyers cannot see them, and the picture plays again by
//   itself;
// - the farmer's link dead until the app's connection fails, and the farmer's screen without the
//   server's live events: its own connection tells it buyers cannot see it, buyers wait, and the
//   app goes live again by itself once the link is back;
// - the live events' connections dying without a word (tcp-link.mjs), as a phone's do out of
//   coverage: the farmer's screen says its figures are out of date, and both it and the buyer's
//   card hear the stream again by themselves once coverage is back.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";

import { artifacts, launchChromium, phoneContext, playback, RECORD_PEERS, startApp, startServer, waitFor } from "./support.mjs";
import { startTcpLink } from "./tcp-link.mjs";
import { sendThrough, startUdpLink } from "./udp-link.mjs";

let server;
let app;
let browser;
const links = [];

before(async () => {
  server = await startServer();
  app = await startApp(server);
  browser = await launchChromium({ media: true });
});

after(async () => {
  for (const link of links) link.close();
  await browser?.close();
  app?.stop();
  server?.stop();
});

/**
 * Replaces the camera's picture with a canvas that keeps the encoder busy, as a phone's view of a
 * field does: a detailed texture that pans slowly, as a hand-held phone does, and leaves that
 * sway in every frame. Chromium's fake camera draws a few flat shapes that need well under
 * 200 kbit/s, so a 150 kbit/s link would hardly squeeze it; this fills the top rung's 500. The
 * fake microphone stays: its sound shares the uplink too.
 */
const FIELD_CAMERA = `
  (() => {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const texture = document.createElement("canvas");
    texture.width = 1280;
    texture.height = 360;
    const t = texture.getContext("2d");
    t.fillStyle = "#5a6b2a";
    t.fillRect(0, 0, 1280, 360);
    for (let i = 0; i < 1500; i++) {
      t.fillStyle = "hsl(" + (50 + random() * 70) + ", 55%, " + (15 + random() * 55) + "%)";
      t.fillRect(random() * 1280, random() * 360, 4 + random() * 12, 4 + random() * 12);
    }
    const canvas = document.createElement("canvas");
    canvas.width = 640;
    canvas.height = 360;
    const g = canvas.getContext("2d");
    // Leaves: fixed ones that sway, each on its own phase, as a wind moves them.
    const leaves = Array.from({ length: 60 }, () => ({
      x: 360 + random() * 260, y: 180 + random() * 160, size: 4 + random() * 10, phase: random() * 6.28,
      color: "hsl(" + (70 + random() * 50) + ", 60%, " + (20 + random() * 50) + "%)",
    }));
    let frame = 0;
    setInterval(() => {
      frame += 1;
      g.drawImage(texture, -Math.round((Math.sin(frame / 40) + 1) * 300), 0);
      for (const leaf of leaves) {
        g.fillStyle = leaf.color;
        g.fillRect(leaf.x + 8 * Math.sin(frame / 4 + leaf.phase), leaf.y + 5 * Math.cos(frame / 5 + leaf.phase), leaf.size, leaf.size * 0.6);
      }
    }, 1000 / 15);
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = canvas.captureStream(15);
      if (constraints.audio) for (const track of (await original({ audio: constraints.audio })).getAudioTracks()) stream.addTrack(track);
      return stream;
    };
  })();
`;

/** Where a buyer's playback stands: connections made so far, and frames on the newest. */
async function position(page) {
  return { peers: await page.evaluate(() => window.__peers.length), frames: (await playback(page)).frames };
}

/**
 * Whether 30 frames have played since `then` (a `position`), on the same connection or a new one,
 * with the page saying nothing over the picture.
 */
async function playingSince(page, then) {
  const now = await position(page);
  const frames = now.peers > then.peers ? now.frames : now.frames - then.frames;
  return frames > 30 && !(await page.locator("#live-notice").isVisible());
}

/** Goes live from the farmer's Go Live screen in `context`; resolves with the page. */
async function goLive(context, title) {
  const farmer = await context.newPage();
  await farmer.goto(app.base);
  await farmer.getByTestId("tab-live").tap();
  await farmer.getByTestId("live-title").fill(title);
  await waitFor(() => farmer.getByTestId("start-live").isEnabled(), "the camera preview is on");
  await farmer.getByTestId("start-live").tap();
  await farmerShows(farmer, "live", "the farmer is live");
  return farmer;
}

/** A buyer on a phone watching the farmer's stream; resolves once frames decode. */
async function watch(context, farmer) {
  await context.addInitScript(RECORD_PEERS);
  const buyer = await context.newPage();
  await buyer.goto(await farmer.getByTestId("watch-url").getAttribute("href"));
  await waitFor(async () => (await playback(buyer)).frames > 30, "the buyer's page decodes frames");
  return buyer;
}

/**
 * The farmer live from a context whose WebRTC goes through a fresh link, and a buyer watching
 * over a clean path. With `liveEvents: false` the farmer's screen never gets the stream's live
 * events, so all it knows of the link is what its own browser tells it.
 */
async function farmerBehindLink(title, { liveEvents = true } = {}) {
  const farmerContext = await phoneContext(browser, "en");
  const link = await startUdpLink();
  links.push(link);
  await sendThrough(farmerContext, link);
  if (!liveEvents) await farmerContext.route((url) => url.pathname.endsWith("/events"), (route) => route.abort());
  const farmer = await goLive(farmerContext, title);
  const buyerContext = await phoneContext(browser, "en");
  const buyer = await watch(buyerContext, farmer);
  return { link, farmer, buyer, contexts: [farmerContext, buyerContext] };
}

/** What the badge over the farmer's camera says: connecting, live, interrupted or reconnecting. */
function onAir(farmer) {
  return farmer.getByTestId("live-state").getAttribute("data-phase");
}

/** Waits until the farmer's badge says `state`. */
function farmerShows(farmer, state, what, timeout) {
  return waitFor(async () => (await onAir(farmer)) === state, what, timeout);
}

/** Whether the buyer's page shows a notice that matches `pattern`. */
async function says(buyer, pattern) {
  const notice = buyer.locator("#live-notice");
  return (await notice.isVisible()) && pattern.test(await notice.innerText());
}

/** Ends the stream from the farmer's screen, then closes the test's browser contexts. */
async function endLive(farmer, contexts) {
  await farmer.getByTestId("end-live").tap();
  await farmer.getByTestId("live-ended").waitFor();
  for (const context of contexts) await context.close();
}

/** The caps the camera's senders hold now: the rung the Go Live screen last applied. */
async function caps(page) {
  return page.evaluate(() => {
    const senders = window.__peers.at(-1).getSenders();
    const encoding = (kind) => senders.find((s) => s.track?.kind === kind).getParameters().encodings[0];
    const video = encoding("video");
    return { kbps: video.maxBitrate / 1000, fps: video.maxFramerate, scale: video.scaleResolutionDownBy, audioKbps: encoding("audio").maxBitrate / 1000 };
  });
}

test("on a 150 kbit/s uplink the camera steps down, buyers still watch, and it climbs back when the link recovers", async (t) => {
  const context = await phoneContext(browser, "en");
  await context.addInitScript(RECORD_PEERS);
  await context.addInitScript(FIELD_CAMERA);
  // The camera reaches the relay only through the link.
  const link = await startUdpLink();
  links.push(link);
  await sendThrough(context, link);
  const farmer = await goLive(context, "Field at dusk");
  const health = farmer.getByTestId("uplink-health");
  const level = async () => Number(await health.getAttribute("data-level"));

  const buyerContext = await phoneContext(browser, "en");
  const buyer = await watch(buyerContext, farmer);
  assert.ok(link.stats.forwarded > 100, "the camera's packets go through the link");

  // A clean link: the busy picture fills the top rung's cap, and the camera stays on that rung
  // for the next 150 frames (ten seconds, five of the screen's samples of the uplink).
  const clean = (await playback(buyer)).frames;
  await waitFor(async () => {
    assert.equal(await level(), 0, "a clean link keeps the top rung");
    return (await playback(buyer)).frames >= clean + 150;
  }, "150 frames on a clean link");
  assert.equal(await health.getAttribute("data-health"), "good");
  assert.deepEqual(await caps(farmer), { kbps: 500, fps: 15, scale: 1, audioKbps: 32 });

  // The link drops to 150 kbit/s: the camera walks down to the bottom rung, and says so.
  link.setRate(150_000);
  const squeezedAt = Date.now();
  await waitFor(async () => (await level()) === 3, "the camera reaches the bottom rung", 60_000);
  const down = Date.now() - squeezedAt;
  assert.deepEqual(await caps(farmer), { kbps: 150, fps: 10, scale: 2, audioKbps: 16 });
  assert.notEqual(await health.getAttribute("data-health"), "good");

  // Still watchable: the buyer's picture keeps moving, at 5 frames a second or better.
  const squeezed = (await playback(buyer)).frames;
  const watchedAt = Date.now();
  await waitFor(async () => (await playback(buyer)).frames >= squeezed + 50, "50 frames within 10 s on the squeezed link", 10_000);
  const watched = Date.now() - watchedAt;
  const { height } = await playback(buyer);
  assert.ok(height >= 90, "the picture is at least 90 lines high");
  await buyer.screenshot({ path: join(artifacts, "live-buyer-weak-uplink.png") });

  // The link recovers: the camera climbs back, one rung at a time, to the top.
  link.setRate(null);
  const freedAt = Date.now();
  await waitFor(async () => (await level()) === 0, "the camera climbs back to the top rung", 120_000);
  // The figures behind the verdict, for the log: how it went, not only that it passed.
  t.diagnostic(
    `bottom rung ${(down / 1000).toFixed(1)} s after the squeeze; 50 frames in ${(watched / 1000).toFixed(1)} s there ` +
      `(${((50 * 1000) / watched).toFixed(1)} fps, ${height} lines); top rung ${((Date.now() - freedAt) / 1000).toFixed(1)} s after the link was freed; ` +
      `the link dropped ${link.stats.dropped} of ${link.stats.forwarded + link.stats.dropped} packets`,
  );
  assert.deepEqual(await caps(farmer), { kbps: 500, fps: 15, scale: 1, audioKbps: 32 });
  await farmer.screenshot({ path: join(artifacts, "live-farmer-recovered-en.png") });
  await context.close();
  await buyerContext.close();
});

test("a buyer whose connection drops is told so, and the page reconnects by itself", async (t) => {
  const farmerContext = await phoneContext(browser, "en");
  const farmer = await goLive(farmerContext, "Evening at the orchard");

  // The buyer's phone reaches the relay only through the link.
  const context = await phoneContext(browser, "en");
  const link = await startUdpLink();
  links.push(link);
  await sendThrough(context, link);
  const buyer = await watch(context, farmer);
  const notice = buyer.locator("#live-notice");
  assert.equal(await notice.isVisible(), false);

  const said = new Set();
  const saysLost = async () => {
    const text = (await notice.isVisible()) ? await notice.innerText() : "";
    if (text) said.add(text);
    return /Reconnecting/.test(text);
  };

  // A short gap (a phone passing under a bridge): the page says the picture stopped as soon as
  // it does, then that the connection is lost once the browser reports it, and plays again when
  // coverage comes back. The farmer's line is fine, so the page must not blame it.
  const beforeGap = await position(buyer);
  link.cut(true);
  const cutAt = Date.now();
  await waitFor(saysLost, "the page says the connection is lost", 30_000);
  const told = Date.now() - cutAt;
  const texts = [...said].join(" | ");
  assert.ok([...said].some((text) => /picture from Zhang Wei.* has stopped/.test(text)), `first the picture stopped: ${texts}`);
  assert.ok(![...said].some((text) => /connection has dropped/.test(text)), `the farmer's line is not blamed: ${texts}`);
  link.cut(false);
  await waitFor(() => playingSince(buyer, beforeGap), "the page plays again after a short gap", 30_000);

  // A long loss: the page gives up on the connection and makes new ones until one works.
  const beforeLoss = await position(buyer);
  link.cut(true);
  await waitFor(saysLost, "the page says the connection is lost", 30_000);
  await waitFor(async () => (await position(buyer)).peers > beforeLoss.peers, "the page tries a new connection", 30_000);
  await buyer.screenshot({ path: join(artifacts, "live-buyer-reconnecting-en.png") });
  link.cut(false);
  const healedAt = Date.now();
  await waitFor(async () => (await position(buyer)).peers > beforeLoss.peers && (await playingSince(buyer, beforeLoss)), "the page plays again on a new connection", 30_000);
  t.diagnostic(`told ${(told / 1000).toFixed(1)} s after a cut; after a long loss, playing again ${((Date.now() - healedAt) / 1000).toFixed(1)} s after coverage came back`);
  await endLive(farmer, [context, farmerContext]);
});

test("when the farmer's uplink stops, buyers are told it is the farmer's line, and the picture comes back by itself", async (t) => {
  // The farmer's camera reaches the relay only through the link; the buyer's path is clean.
  const { link, farmer, buyer, contexts } = await farmerBehindLink("Rain on the greenhouse");

  // The farmer's phone loses coverage. The buyer's connection holds, so the page does not say it
  // is lost: the server, which no longer hears the camera, tells it the farmer's line dropped.
  const before = await position(buyer);
  link.cut(true);
  const cutAt = Date.now();
  await waitFor(() => says(buyer, /Zhang Wei.*'s connection has dropped/), "the page says the farmer's line dropped", 15_000);
  const told = Date.now() - cutAt;
  assert.equal((await position(buyer)).peers, before.peers, "the buyer's own connection was not replaced");
  await buyer.screenshot({ path: join(artifacts, "live-buyer-interrupted-en.png") });
  // The farmer is told too, long before the browser would give the connection up (about 17 s).
  await farmerShows(farmer, "interrupted", "the farmer's screen says buyers cannot see them", 15_000);
  const farmerTold = Date.now() - cutAt;
  assert.match(await farmer.getByTestId("live-state").innerText(), /buyers can't see you/);
  // Its own stats still look fine (it sends at full rate into the dead link); the screen must not
  // say the connection is good.
  assert.equal(await farmer.getByTestId("uplink-health").getAttribute("data-health"), "lost");
  await farmer.screenshot({ path: join(artifacts, "live-farmer-interrupted-en.png") });

  // Coverage comes back: the picture plays again and the words go, on both sides.
  link.cut(false);
  const healedAt = Date.now();
  await waitFor(() => playingSince(buyer, before), "the picture plays again", 30_000);
  const playingAfter = Date.now() - healedAt;
  await farmerShows(farmer, "live", "the farmer's screen says live again", 30_000);
  t.diagnostic(
    `buyers told ${(told / 1000).toFixed(1)} s and the farmer ${(farmerTold / 1000).toFixed(1)} s after the farmer's link was cut; ` +
      `playing again ${(playingAfter / 1000).toFixed(1)} s and the farmer's screen live ${((Date.now() - healedAt) / 1000).toFixed(1)} s after it came back`,
  );
  await endLive(farmer, contexts);
});

test("when the farmer's coverage is gone for long, buyers wait, and the app goes live again by itself", async (t) => {
  // The farmer's screen here hears nothing from the server's live events (the relay's word that
  // the camera went quiet cannot reach a phone whose coverage is gone), so only its own
  // connection can tell it buyers cannot see it.
  const { link, farmer, buyer, contexts } = await farmerBehindLink("Across the river", { liveEvents: false });
  assert.match(await farmer.getByTestId("live-viewers").innerText(), /^0 /, "the farmer's screen has no live events");
  assert.equal(await farmer.getByTestId("live-figures").getAttribute("data-stale"), "true", "and says its figures are out of date");

  // The farmer walks out of coverage. The buyer is told it is the farmer's line. Once Chromium
  // reports the farmer's connection failed (about 17 s), the app ends that session (a WHIP
  // DELETE: only the link's UDP is cut here) and publishes again, and the page waits for the
  // farmer instead; the relay's 20 s idle timeout would have ended the session too. The new
  // attempt cannot connect yet: its media goes through the dead link as well.
  const before = await position(buyer);
  link.cut(true);
  const cutAt = Date.now();
  await waitFor(() => says(buyer, /Zhang Wei.*'s connection has dropped/), "the page says the farmer's line dropped", 15_000);
  await farmerShows(farmer, "interrupted", "the farmer's screen says buyers cannot see them", 15_000);
  const farmerTold = Date.now() - cutAt;
  await waitFor(() => says(buyer, /Waiting for Zhang Wei.* to go live/), "the page waits for the farmer", 60_000);
  const waitingAfter = Date.now() - cutAt;
  await farmerShows(farmer, "reconnecting", "the farmer's screen says it reconnects", 60_000);
  const reconnectingAfter = Date.now() - cutAt;

  // Coverage comes back: the app publishes again on its own, and the buyer's page, which never
  // left, plays the new stream.
  link.cut(false);
  const healedAt = Date.now();
  await farmerShows(farmer, "live", "the farmer is live again", 60_000);
  const liveAfter = Date.now() - healedAt;
  await waitFor(() => playingSince(buyer, before), "the buyer's page plays again", 30_000);
  t.diagnostic(
    `the farmer told by the browser ${(farmerTold / 1000).toFixed(1)} s after the cut, buyers told to wait after ${(waitingAfter / 1000).toFixed(1)} s, the app reconnecting after ${(reconnectingAfter / 1000).toFixed(1)} s; ` +
      `live again ${(liveAfter / 1000).toFixed(1)} s and playing ${((Date.now() - healedAt) / 1000).toFixed(1)} s after coverage came back`,
  );
  await endLive(farmer, contexts);
});

test("when the live events' connections die without a word, the farmer is told the figures are old, and both screens hear again by themselves", async (t) => {
  // The live events of the farmer's screen and of one buyer's page go through a TCP link that can
  // die silently; the video does not (the UDP tests above cut that). A second buyer, who joins
  // while the link is dead, has a clean path.
  const link = await startTcpLink(server.base);
  links.push(link);
  const events = (url) => url.pathname.endsWith("/events");
  const farmerContext = await phoneContext(browser, "en");
  await link.through(farmerContext, events);
  const farmer = await goLive(farmerContext, "Evening market");
  const buyerContext = await phoneContext(browser, "en");
  await link.through(buyerContext, events);
  const buyer = await watch(buyerContext, farmer);
  const viewers = () => farmer.getByTestId("live-viewers").innerText();
  const stale = async () => (await farmer.getByTestId("live-figures").getAttribute("data-stale")) === "true";
  await waitFor(async () => /^1 /.test(await viewers()), "the farmer sees the buyer");
  assert.equal(await stale(), false);
  // A product of the stream that is not on the card; the farmer features it once coverage is back.
  const offCard = farmer.getByRole("listitem").filter({ has: farmer.locator('[data-testid="feature-product"][aria-pressed="false"]') });
  const otherTitle = (await offCard.first().locator("span").innerText()).trim();
  const other = farmer.getByRole("listitem").filter({ hasText: otherTitle });
  assert.ok(!(await buyer.locator("#card-title").innerText()).includes(otherTitle), `${otherTitle} is not on the buyer's card yet`);
  assert.ok(link.stats.connections >= 2, "both screens' live events go through the link");

  // Coverage goes: nothing reaches either screen, and neither connection says so.
  link.cut(true);
  const cutAt = Date.now();
  await waitFor(stale, "the farmer's screen says its figures are out of date", 30_000);
  const toldAfter = Date.now() - cutAt;
  assert.match(await farmer.getByTestId("live-figures-stale").innerText(), /Not up to date/);
  await farmer.screenshot({ path: join(artifacts, "live-farmer-figures-stale-en.png") });
  const lateContext = await phoneContext(browser, "en");
  await watch(lateContext, farmer);

  // Coverage comes back; the dead connections stay dead. The farmer's screen must find the second
  // buyer, and the first buyer's card the product the farmer features now.
  link.cut(false);
  const healedAt = Date.now();
  await other.getByTestId("feature-product").tap();
  await waitFor(async () => /^2 /.test(await viewers()) && !(await stale()), "the farmer's screen hears the stream again", 30_000);
  const farmerAfter = Date.now() - healedAt;
  await waitFor(async () => (await buyer.locator("#card-title").innerText()).includes(otherTitle), "the buyer's card shows the product featured now", 30_000);
  const buyerAfter = Date.now() - healedAt;
  t.diagnostic(
    `the farmer told the figures were out of date ${(toldAfter / 1000).toFixed(1)} s after the cut; after coverage came back, ` +
      `the farmer's figures current again in ${(farmerAfter / 1000).toFixed(1)} s and the buyer's card in ${(buyerAfter / 1000).toFixed(1)} s ` +
      `(${link.stats.connections} connections through the link, ${link.stats.buried} left dead)`,
  );
  await endLive(farmer, [farmerContext, buyerContext, lateContext]);
});
