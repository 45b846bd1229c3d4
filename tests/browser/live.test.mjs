// Live selling in real Chromium against the real server: a camera publishes over WHIP (Chromium's
// fake camera), two buyers watch over WHEP on the live page, see the featured product change, and
// one buyer's order from the card lowers the stock the other sees.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";

import { artifacts, launchChromium, phoneContext, startServer, waitFor } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium({ media: true });
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** Records every RTCPeerConnection a page makes, so the test can read its getStats(). */
const RECORD_PEERS = `
  window.__peers = [];
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__peers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
`;

/** Frames decoded so far by the page's newest peer connection. */
async function framesDecoded(page) {
  return page.evaluate(async () => {
    const pc = window.__peers.at(-1);
    if (!pc) return 0;
    let frames = 0;
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded ?? 0;
    });
    return frames;
  });
}

/** The MIME type of the video codec the page's newest peer connection decodes. */
async function videoCodec(page) {
  return page.evaluate(async () => {
    const stats = await window.__peers.at(-1).getStats();
    let codec = "";
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") codec = stats.get(report.codecId)?.mimeType ?? "";
    });
    return codec;
  });
}

async function api(path, init = {}) {
  const response = await fetch(`${server.base}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${server.demo.farmer.token}`, "content-type": "application/json", ...init.headers },
  });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  return { status: response.status, body };
}

test("a camera publishes, two buyers watch, and an order from the card moves the stock", async () => {
  const peaches = server.demo.listings.find((l) => l.title.includes("Peaches"));
  const eggs = server.demo.listings.find((l) => l.title.includes("eggs"));
  const created = await api("/streams", {
    method: "POST",
    body: JSON.stringify({ title: "Corn harvest", listing_ids: [peaches.id, eggs.id] }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stream = created.body;

  // The camera: a page on the server's origin publishing the fake camera over WHIP.
  const cameraContext = await browser.newContext();
  const camera = await cameraContext.newPage();
  await camera.goto(server.base);
  const published = await camera.evaluate(async ({ whip, token }) => {
    const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    const pc = new RTCPeerConnection();
    window.__camera = pc;
    for (const track of media.getTracks()) pc.addTransceiver(track, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    const response = await fetch(whip, { method: "POST", headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` }, body: pc.localDescription.sdp });
    const answer = await response.text();
    if (response.status !== 201) return { status: response.status, answer };
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    return { status: response.status, location: response.headers.get("location"), etag: response.headers.get("etag") };
  }, { whip: stream.whip_url, token: stream.publish_token });
  assert.equal(published.status, 201, published.answer);
  assert.match(published.location, /^\/api\/v1\/streams\/[0-9a-f-]+\/sessions\/[0-9a-f]{32}$/);
  await waitFor(async () => (await camera.evaluate(() => window.__camera.connectionState)) === "connected", "the camera connects");

  const buyers = [];
  for (const locale of ["zh-CN", "en"]) {
    const context = await phoneContext(browser, locale);
    await context.addInitScript(RECORD_PEERS);
    const page = await context.newPage();
    await page.goto(stream.watch_url);
    buyers.push(page);
  }
  for (const page of buyers) {
    await waitFor(async () => (await framesDecoded(page)) > 10, "frames decode on the buyer's page");
  }
  const first = await Promise.all(buyers.map(framesDecoded));
  await waitFor(async () => {
    const now = await Promise.all(buyers.map(framesDecoded));
    return now.every((frames, i) => frames > first[i] + 10);
  }, "frames keep decoding on both pages");
  // Every phone decodes H.264 in hardware: the relay prefers it when the camera offers it.
  assert.equal(await videoCodec(buyers[0]), "video/H264");
  await buyers[1].screenshot({ path: join(artifacts, "live-buyer-en.png") });

  // The farmer features the eggs: both cards change.
  const featured = await api(`/streams/${stream.id}/featured`, { method: "POST", body: JSON.stringify({ listing_id: eggs.id }) });
  assert.equal(featured.status, 200, JSON.stringify(featured.body));
  for (const page of buyers) {
    await waitFor(async () => (await page.locator("#card-title").innerText()).includes("eggs"), "the card shows the eggs");
  }
  const stockBefore = await buyers[1].locator("#card-stock").innerText();

  // The Chinese buyer orders two boxes from the card without leaving the stream.
  const buyer = buyers[0];
  await buyer.locator("#card-buy").tap();
  const sheet = buyer.frameLocator("#sheet-frame");
  await sheet.locator("#name").fill("李明");
  await sheet.locator("#phone").fill("13900139000");
  await sheet.getByRole("button", { name: "下单" }).tap();
  await sheet.locator("#status").waitFor();
  assert.equal(await sheet.locator("#status").getAttribute("data-status"), "placed");
  assert.ok((await framesDecoded(buyer)) > 0, "the video kept playing behind the sheet");

  await waitFor(async () => (await buyers[1].locator("#card-stock").innerText()) !== stockBefore, "the other buyer sees the stock drop");
  await waitFor(async () => (await buyers[1].locator("#live-orders").innerText()).startsWith("1"), "the orders count reaches 1");
  await buyer.screenshot({ path: join(artifacts, "live-buyer-order-zh.png") });

  // The order is a live-channel order at the server's price.
  const orders = await api("/orders");
  const order = orders.body.items.find((o) => o.buyer.name === "李明");
  assert.equal(order.channel, "live");

  // Ending the stream tells both pages.
  assert.equal((await api(`/streams/${stream.id}/end`, { method: "POST" })).status, 200);
  for (const page of buyers) {
    await waitFor(async () => (await page.locator("#live-notice").innerText()).length > 0 && !(await page.locator("#live-notice").isHidden()), "the page says the stream ended");
  }
  await cameraContext.close();
});
