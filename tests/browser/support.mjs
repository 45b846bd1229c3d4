// Helpers for the browser tests: start the real server binary on a free loopback port, launch
// Debian's Chromium (never a downloaded one), and save artifacts where CI keeps them.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const artifacts = process.env.FIELDCAST_ARTIFACTS ?? join(import.meta.dirname, "../../target/artifacts");
mkdirSync(artifacts, { recursive: true });

/** Starts `fieldcast-market serve --demo` in a fresh data dir; resolves once it listens. */
export async function startServer() {
  const binary = process.env.FIELDCAST_MARKET_BIN;
  if (!binary) throw new Error("FIELDCAST_MARKET_BIN is not set; run these tests through `cargo xtask test`");
  const dataDir = mkdtempSync(join(tmpdir(), "fieldcast-browser-"));
  const child = spawn(binary, ["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start within 30 s")), 30_000);
    child.once("exit", (code) => reject(new Error(`the server exited early with ${code}`)));
    let listening;
    lines.on("line", (line) => {
      const match = /^listening on (http:\/\/\S+)/.exec(line);
      if (match) listening = match[1];
      // demo.json is complete once the summary's last line is out.
      if (line.startsWith("pair the app")) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
  });
  const demo = JSON.parse(readFileSync(join(dataDir, "demo.json"), "utf8"));
  return { base, demo, dataDir, stop: () => child.kill("SIGTERM") };
}

/** Runs `fieldcast-device` once with `args`; resolves with its stdout. */
function device(args) {
  const binary = process.env.FIELDCAST_DEVICE_BIN;
  if (!binary) throw new Error("FIELDCAST_DEVICE_BIN is not set; run these tests through `cargo xtask test`");
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`fieldcast-device ${args[2]} exited with ${code}`))));
  });
}

/**
 * The app's front end in Chromium: a device paired with the demo farmer (or whoever `code`
 * belongs to) and synced (so it has Zhang's produce), serving `ui/dist` over the `serve-ui`
 * bridge; resolves once it listens.
 */
export async function startApp(server, { code = server.demo.farmer.pairing_code, name = "Zhang's phone" } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "fieldcast-device-"));
  // `code: null` starts a device that is not paired yet, as a new phone is.
  if (code !== null) {
    await device(["--data-dir", dataDir, "pair", "--server", server.base, "--code", code, "--name", name]);
    await device(["--data-dir", dataDir, "sync", "--timeout", "60"]);
  }
  const ui = process.env.FIELDCAST_UI_DIST ?? join(import.meta.dirname, "../../ui/dist");
  const child = spawn(process.env.FIELDCAST_DEVICE_BIN, ["--data-dir", dataDir, "serve-ui", "--addr", "127.0.0.1:0", "--ui", ui], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const base = await listening(child, "the app's bridge");
  return { base, stop: () => child.kill("SIGTERM") };
}

/** The URL a child prints as `listening on http://…`. */
function listening(child, what) {
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s`)), 30_000);
    child.once("exit", (code) => reject(new Error(`${what} exited early with ${code}`)));
    lines.on("line", (line) => {
      const match = /^listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
}

/**
 * Debian's Chromium, headless, with the flags this machine's closed network needs. With `media`,
 * a fake camera and microphone, no permission prompts, autoplay, and ICE on loopback (Chromium
 * otherwise hides local addresses behind mDNS names and skips loopback candidates).
 */
export function launchChromium({ media = false } = {}) {
  const mediaArgs = media
    ? [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
      ]
    : [];
  return chromium.launch({
    executablePath: process.env.FIELDCAST_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...mediaArgs,
    ],
  });
}

/**
 * An init script that records every RTCPeerConnection a page makes in `window.__peers`, so a test
 * can read its getStats() and its senders.
 */
export const RECORD_PEERS = `
  window.__peers = [];
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__peers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
`;

/**
 * What the page's newest RTCPeerConnection (see `RECORD_PEERS`) has decoded of its video: frames
 * so far, the height of the last one, and how many RTCP sender reports it took for the video.
 */
export async function playback(page) {
  return page.evaluate(async () => {
    const pc = window.__peers.at(-1);
    let out = { frames: 0, height: 0, senderReports: 0 };
    if (!pc) return out;
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") Object.assign(out, { frames: report.framesDecoded ?? 0, height: report.frameHeight ?? 0 });
      // Chromium makes this entry from the RTCP sender reports it takes for the stream.
      if (report.type === "remote-outbound-rtp" && report.kind === "video") out.senderReports = report.reportsSent ?? 0;
    });
    return out;
  });
}

/** Waits until `condition()` holds, checking every 50 ms; fails with `what` after `ms`. */
export async function waitFor(condition, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs axe-core (from npm) on the page and returns the serious and critical violations, each as
 * "rule: the first offending element", so a failure says what to fix.
 */
export async function accessibilityProblems(page) {
  await page.addScriptTag({ path: join(import.meta.dirname, "node_modules/axe-core/axe.min.js") });
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(" | ")}`);
}

/** A laptop: 1366×768 CSS pixels, mouse and keyboard, the given language. */
export function laptopContext(browser, locale) {
  return browser.newContext({ viewport: { width: 1366, height: 768 }, locale });
}

/** A phone: 390×844 CSS pixels, touch, the given language. */
export function phoneContext(browser, locale) {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale,
  });
}
