// Glass-to-glass delay of live video on loopback, for `cargo xtask bench`: from the moment a frame
// is drawn on the farmer's "camera" to the moment the buyer's page presents it.
//
// The farmer's real Go Live screen publishes a canvas instead of the fake camera (getUserMedia is
// replaced before the page loads); every frame carries the wall-clock millisecond it was drawn as
// 32 black-or-white blocks, twice. The buyer's real live page plays it through the relay; for each
// frame it presents (requestVideoFrameCallback), the blocks are read back from the picture and the
// delay is the expected display time minus the drawn time. Both pages share the browser's clock.
// Frames whose two copies disagree (a block smeared by the encoder) are skipped and counted.
//
// With `--noise`, the blocks sit on random noise instead of grey, so the encoder runs at the Go
// Live screen's bitrate cap as a real field would, not at the few kbit/s a still picture needs.
//
// Reads 15 frames per `--seconds` (the canvas's rate). Prints one JSON line:
// { samples, skipped, median_ms, p95_ms, min_ms, max_ms, seconds, noise, relay }, where `relay` is
// the server's relay counters at the end (packets in and forwarded, viewer flushes).
import { launchChromium, phoneContext, startApp, startServer, waitFor } from "./support.mjs";

const seconds = Number(process.argv[process.argv.indexOf("--seconds") + 1] || 20);
const noise = process.argv.includes("--noise");

/** Replaces the camera with a 640×360 canvas at 15 fps showing the time as blocks. */
const CANVAS_CAMERA = `
  const NOISE = ${noise};
  const BLOCK = 40;
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext("2d");
  const draw = () => {
    const stamp = Math.floor(performance.timeOrigin + performance.now()) >>> 0;
    if (NOISE) {
      const picture = g.createImageData(640, 360);
      const pixels = new Uint32Array(picture.data.buffer);
      for (let i = 0; i < pixels.length; i++) pixels[i] = (Math.random() * 0xffffff) | 0xff000000;
      g.putImageData(picture, 0, 0);
    } else {
      g.fillStyle = "#808080";
      g.fillRect(0, 0, 640, 360);
    }
    for (let copy = 0; copy < 2; copy++) {
      for (let bit = 0; bit < 32; bit++) {
        g.fillStyle = (stamp >>> (31 - bit)) & 1 ? "#fff" : "#000";
        g.fillRect((bit % 16) * BLOCK, (copy * 2 + Math.floor(bit / 16)) * BLOCK + 40, BLOCK, BLOCK);
      }
    }
  };
  setInterval(draw, 1000 / 15);
  draw();
  const stream = canvas.captureStream(15);
  navigator.mediaDevices.getUserMedia = async () => stream.clone();
`;

/** Hooks the buyer page's video: reads the blocks of every presented frame. */
const READ_FRAMES = () => {
  const video = document.querySelector("video");
  const canvas = document.createElement("canvas");
  const g = canvas.getContext("2d", { willReadFrequently: true });
  window.__delays = [];
  window.__skipped = 0;
  const read = (copy, width, height, data) => {
    let stamp = 0;
    for (let bit = 0; bit < 32; bit++) {
      const x = Math.floor((((bit % 16) * 40 + 20) * width) / 640);
      const y = Math.floor((((copy * 2 + Math.floor(bit / 16)) * 40 + 60) * height) / 360);
      const i = (y * width + x) * 4;
      const light = (data[i] + data[i + 1] + data[i + 2]) / 3;
      stamp = ((stamp << 1) | (light > 128 ? 1 : 0)) >>> 0;
    }
    return stamp;
  };
  const onFrame = (now, meta) => {
    const width = meta.width;
    const height = meta.height;
    canvas.width = width;
    canvas.height = height;
    g.drawImage(video, 0, 0, width, height);
    const { data } = g.getImageData(0, 0, width, height);
    const first = read(0, width, height, data);
    const second = read(1, width, height, data);
    if (first === second) {
      const shown = Math.floor(performance.timeOrigin + meta.expectedDisplayTime) >>> 0;
      window.__delays.push(((shown - first) >>> 0) | 0);
    } else {
      window.__skipped += 1;
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
};

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const server = await startServer();
const app = await startApp(server);
const browser = await launchChromium({ media: true });
try {
  const farmerContext = await phoneContext(browser, "en");
  await farmerContext.addInitScript(CANVAS_CAMERA);
  const farmer = await farmerContext.newPage();
  await farmer.goto(app.base);
  await farmer.getByTestId("tab-live").click();
  await waitFor(async () => (await farmer.getByTestId("live-product").count()) > 0, "the products are listed");
  await farmer.getByTestId("live-title").fill("Glass to glass");
  await waitFor(() => farmer.getByTestId("start-live").isEnabled(), "the canvas camera is on");
  await farmer.getByTestId("start-live").click();
  await waitFor(async () => (await farmer.getByTestId("live-state").getAttribute("data-phase")) === "live", "the farmer is live");
  const watchUrl = await farmer.getByTestId("watch-url").getAttribute("href");

  const buyer = await (await phoneContext(browser, "en")).newPage();
  await buyer.goto(watchUrl);
  await waitFor(() => buyer.evaluate(() => (document.querySelector("video")?.readyState ?? 0) >= 2), "the buyer's video plays", 30_000);
  // The first frames carry the start-up (the key frame wait, the jitter buffer settling): reading
  // starts after 3 s worth of them have been shown, and stops after `seconds` worth more.
  const shown = () => buyer.evaluate(() => document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames);
  await waitFor(async () => (await shown()) >= 3 * 15, "the start-up frames are shown", 30_000);
  await buyer.evaluate(READ_FRAMES);
  const wanted = seconds * 15;
  await waitFor(
    () => buyer.evaluate((n) => window.__delays.length + window.__skipped >= n, wanted),
    `${wanted} frames are read`,
    (seconds + 30) * 1000,
  );
  const { delays, skipped } = await buyer.evaluate(() => ({ delays: window.__delays, skipped: window.__skipped }));
  if (delays.length < 10) throw new Error(`only ${delays.length} frames could be read (${skipped} skipped)`);
  const sorted = [...delays].sort((a, b) => a - b);
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  const counter = (name) => Number(metrics.match(new RegExp(`^fieldcast_relay_${name} (\\S+)$`, "m"))?.[1]);
  console.log(
    JSON.stringify({
      samples: sorted.length,
      skipped,
      seconds,
      median_ms: percentile(sorted, 50),
      p95_ms: percentile(sorted, 95),
      min_ms: sorted[0],
      max_ms: sorted.at(-1),
      noise,
      relay: { rtp_in: counter("rtp_in_total"), forwarded: counter("forwarded_packets_total"), viewer_flushes: counter("viewer_flushes_total") },
    }),
  );
} finally {
  await browser.close();
  app.stop();
  server.stop();
}
