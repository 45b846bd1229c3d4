// Live selling in real Chromium against the real server: the farmer's Go Live screen (the app's
// front end over the device bridge, Chromium's fake camera) publishes over WHIP, two buyers watch
// over WHEP on the live page, see the featured product change when the farmer taps it, and one
// buyer's order from the card lowers the stock the other buyer and the farmer see, and counts in
// the farmer's sales of that stream.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";

import { artifacts, launchChromium, phoneContext, playback, RECORD_PEERS, startApp, startServer, waitFor } from "./support.mjs";

let server;
let app;
let browser;

before(async () => {
  server = await startServer();
  app = await startApp(server);
  browser = await launchChromium({ media: true });
});

after(async () => {
  await browser?.close();
  app?.stop();
  server?.stop();
});

/** Frames the page's `<video>` element has presented, and the kinds of the tracks it shows. */
async function shown(page) {
  return page.evaluate(() => {
    const video = document.querySelector("video");
    const kinds = video.srcObject ? video.srcObject.getTracks().map((t) => t.kind).sort() : [];
    return { frames: video.getVideoPlaybackQuality().totalVideoFrames, kinds };
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

/** The farmer's camera: outbound video as the encoder sends it, and the sender's limits. */
async function cameraStats(page) {
  return page.evaluate(async () => {
    const pc = window.__peers.at(-1);
    const sender = pc.getSenders().find((s) => s.track?.kind === "video");
    const stats = await pc.getStats();
    let out = {};
    stats.forEach((report) => {
      if (report.type === "outbound-rtp" && report.kind === "video") {
        out = { frameHeight: report.frameHeight, framesSent: report.framesSent, codec: stats.get(report.codecId)?.mimeType };
      }
    });
    const [encoding] = sender.getParameters().encodings;
    return { ...out, maxBitrate: encoding.maxBitrate, maxFramerate: encoding.maxFramerate };
  });
}

test("the farmer goes live, two buyers watch, and an order from the card moves the stock", async () => {
  const peaches = server.demo.listings.find((l) => l.title.includes("Peaches"));
  const eggs = server.demo.listings.find((l) => l.title.includes("eggs"));

  // The farmer's Go Live screen, in English, on a phone.
  const farmerContext = await phoneContext(browser, "en");
  await farmerContext.addInitScript(RECORD_PEERS);
  const farmer = await farmerContext.newPage();
  await farmer.goto(app.base);
  await farmer.getByTestId("tab-live").tap();
  const products = farmer.getByTestId("live-product");
  await waitFor(async () => (await products.count()) >= 2, "the farmer's products are listed");
  for (const box of await products.all()) await box.uncheck();
  await farmer.getByLabel(peaches.title).check();
  await farmer.getByLabel(eggs.title).check();
  await farmer.getByTestId("live-title").fill("Corn harvest");
  await waitFor(() => farmer.getByTestId("start-live").isEnabled(), "the camera preview is on");
  await farmer.getByTestId("start-live").tap();
  await waitFor(async () => (await farmer.getByTestId("live-state").getAttribute("data-phase")) === "live", "the farmer is live");
  const watchUrl = await farmer.getByTestId("watch-url").getAttribute("href");
  assert.match(watchUrl, /^http:\/\/127\.0\.0\.1:\d+\/live\/[0-9a-f-]+$/);

  // The camera starts at the top rung: 360p at 15 fps within 500 kbit/s, in H.264.
  await waitFor(async () => (await cameraStats(farmer)).framesSent > 30, "the camera sends frames");
  const camera = await cameraStats(farmer);
  assert.equal(camera.codec, "video/H264");
  assert.equal(camera.maxBitrate, 500_000);
  assert.equal(camera.maxFramerate, 15);
  assert.ok(camera.frameHeight <= 360, `frame height ${camera.frameHeight}`);

  const buyers = [];
  for (const locale of ["zh-CN", "en"]) {
    const context = await phoneContext(browser, locale);
    await context.addInitScript(RECORD_PEERS);
    const page = await context.newPage();
    await page.goto(watchUrl);
    buyers.push(page);
  }
  for (const page of buyers) {
    await waitFor(async () => (await playback(page)).frames > 10, "frames decode on the buyer's page");
  }
  const first = await Promise.all(buyers.map(async (page) => (await playback(page)).frames));
  await waitFor(async () => {
    const now = await Promise.all(buyers.map(async (page) => (await playback(page)).frames));
    return now.every((frames, i) => frames > first[i] + 10);
  }, "frames keep decoding on both pages");
  // The relay's sender reports (one a second) are what a browser lines the sound up with.
  for (const page of buyers) {
    await waitFor(async () => (await playback(page)).senderReports >= 2, "the relay's sender reports reach the buyer");
  }
  // Decoded is not seen: the element itself must present the frames, with the sound beside them.
  for (const page of buyers) {
    await waitFor(async () => (await shown(page)).frames > 10, "the buyer's video element shows frames");
    assert.deepEqual((await shown(page)).kinds, ["audio", "video"]);
  }
  // Every phone decodes H.264 in hardware: the relay prefers it when the camera offers it.
  assert.equal(await videoCodec(buyers[0]), "video/H264");
  await waitFor(async () => (await farmer.getByTestId("live-viewers").innerText()).startsWith("2"), "the farmer sees two viewers");
  await buyers[1].screenshot({ path: join(artifacts, "live-buyer-en.png") });

  // Switching the camera while live changes only the picture: the stream goes on, with its sound.
  const videoTrack = () => farmer.evaluate(() => window.__peers.at(-1).getSenders().find((s) => s.track?.kind === "video").track.id);
  const trackBefore = await videoTrack();
  await farmer.getByTestId("switch-camera").tap();
  await waitFor(async () => (await videoTrack()) !== trackBefore, "the stream carries the other camera");
  const beforeSwitch = (await playback(buyers[0])).frames;
  await waitFor(async () => (await playback(buyers[0])).frames > beforeSwitch + 15, "frames keep coming after the switch");
  const senders = await farmer.evaluate(() => window.__peers.at(-1).getSenders().map((s) => `${s.track?.kind}:${s.track?.readyState}`));
  assert.deepEqual(senders.sort(), ["audio:live", "video:live"]);

  // The farmer taps the eggs: both cards change.
  await farmer.getByRole("listitem").filter({ hasText: eggs.title }).getByTestId("feature-product").tap();
  for (const page of buyers) {
    await waitFor(async () => (await page.locator("#card-title").innerText()).includes("eggs"), "the card shows the eggs");
  }
  const stockBefore = await buyers[1].locator("#card-stock").innerText();
  await waitFor(async () => (await farmer.getByTestId("live-stock").innerText()).includes(stockBefore), "the farmer sees the eggs' stock");

  // The Chinese buyer orders two boxes from the card without leaving the stream.
  const buyer = buyers[0];
  await buyer.locator("#card-buy").tap();
  const sheet = buyer.frameLocator("#sheet-frame");
  await sheet.locator("#name").fill("李明");
  await sheet.locator("#phone").fill("13900139000");
  await sheet.getByRole("button", { name: "下单" }).tap();
  await sheet.locator("#status").waitFor();
  assert.equal(await sheet.locator("#status").getAttribute("data-status"), "placed");
  assert.ok((await playback(buyer)).frames > 0, "the video kept playing behind the sheet");

  await waitFor(async () => (await buyers[1].locator("#card-stock").innerText()) !== stockBefore, "the other buyer sees the stock drop");
  await waitFor(async () => (await buyers[1].locator("#live-orders").innerText()).startsWith("1"), "the orders count reaches 1");
  await waitFor(async () => (await farmer.getByTestId("live-orders").innerText()).startsWith("1"), "the farmer sees the order");
  await waitFor(async () => !(await farmer.getByTestId("live-stock").innerText()).includes(stockBefore), "the farmer sees the stock drop");
  await buyer.screenshot({ path: join(artifacts, "live-buyer-order-zh.png") });
  await farmer.screenshot({ path: join(artifacts, "live-farmer-en.png") });

  // The order is a live-channel order at the server's price.
  const orders = await api("/orders");
  const order = orders.body.items.find((o) => o.buyer.name === "李明");
  assert.equal(order.channel, "live");
  assert.deepEqual(order.stream, { id: watchUrl.split("/").pop(), title: "Corn harvest" }, "the order names the stream it came from");

  // The farmer ends the stream: both pages say so.
  await farmer.getByTestId("end-live").tap();
  await farmer.getByTestId("live-ended").waitFor();
  for (const page of buyers) {
    await waitFor(async () => (await page.locator("#live-notice").innerText()).length > 0 && !(await page.locator("#live-notice").isHidden()), "the page says the stream ended");
  }

  // Once the phone has synced, the farmer's Earnings counts the order under the stream.
  await farmer.getByTestId("tab-today").tap();
  await farmer.getByTestId("sync-now").tap();
  await farmer.getByTestId("tab-earnings").tap();
  const perStream = farmer.getByTestId("chart-streams");
  await waitFor(async () => (await perStream.count()) > 0 && (await perStream.innerText()).includes("Corn harvest"), "Earnings shows the stream's sales", 30_000);
  await farmer.screenshot({ path: join(artifacts, "earnings-per-stream-en.png"), fullPage: true });
  await farmerContext.close();
});

test("a webview without WebRTC says so instead of failing", async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    delete window.RTCPeerConnection;
  });
  const page = await context.newPage();
  await page.goto(app.base);
  await page.getByTestId("tab-live").click();
  await page.getByTestId("go-live-unsupported").waitFor();
  assert.match(await page.getByTestId("go-live-unsupported").innerText(), /WebRTC/);
  await context.close();
});
