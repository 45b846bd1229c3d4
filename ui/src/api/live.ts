// Live video and live events, from the webview straight to the marketplace: the camera publishes
// over WHIP (RFC 9725) with the stream's publish token, and the farmer's screen follows the same
// live events buyers get. This stays in the api module so that every network call of the front
// end is in one place; it goes to the marketplace and not the Rust backend because the webview
// owns the camera and the RTCPeerConnection.
import type { Level, Sample } from "../live/uplink";
import type { LiveEvent } from "./bindings";

/** A refused or failed publish, with the marketplace's error code where it gave one. */
export class LiveError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "LiveError";
  }
}

/** Whether this webview can publish at all (Debian's WebKitGTK is built without WebRTC). */
export function canPublish(): boolean {
  return typeof RTCPeerConnection === "function" && typeof navigator.mediaDevices?.getUserMedia === "function";
}

/** The capture every rung of the quality ladder is scaled from. */
export const CAPTURE = { width: 640, height: 360, frameRate: 15 };

export type Facing = "user" | "environment";

export function openCamera(facing: Facing): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({
    video: { facingMode: facing, width: { ideal: CAPTURE.width }, height: { ideal: CAPTURE.height }, frameRate: { ideal: CAPTURE.frameRate } },
    audio: { echoCancellation: true, noiseSuppression: true },
  });
}

/** A camera publishing to a stream. */
export interface Publisher {
  readonly pc: RTCPeerConnection;
  /** Applies a rung of the quality ladder to the video sender. */
  setLevel(level: Level): Promise<void>;
  /** Puts another camera's picture on the stream without renegotiating. */
  replaceVideo(track: MediaStreamTrack): Promise<void>;
  /** What the last interval said about the uplink. */
  sample(): Promise<Sample>;
  /** Ends the WHIP session and closes the connection. */
  stop(): Promise<void>;
}

/** How long to wait for ICE candidates before sending the offer with those gathered so far. */
const GATHERING_DEADLINE_MS = 3000;

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    // A host candidate arrives within milliseconds; a dead STUN server must not hold the start.
    setTimeout(resolve, GATHERING_DEADLINE_MS);
  });
}

async function refusal(response: Response): Promise<LiveError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) return new LiveError(body.error.code, body.error.message ?? "");
  } catch {
    // Not JSON: the status is all there is.
  }
  return new LiveError("unexpected", `WHIP answered ${response.status}`);
}

/** H.264 first: every phone decodes it in hardware, and the relay forwards, never transcodes. */
function preferH264(transceiver: RTCRtpTransceiver): void {
  const codecs = RTCRtpSender.getCapabilities?.("video")?.codecs;
  if (!codecs || typeof transceiver.setCodecPreferences !== "function") return;
  const rank = (mime: string) => (mime === "video/H264" ? 0 : mime === "video/VP8" ? 1 : 2);
  transceiver.setCodecPreferences([...codecs].sort((a, b) => rank(a.mimeType) - rank(b.mimeType)));
}

export async function publishCamera(whipUrl: string, token: string, media: MediaStream, level: Level): Promise<Publisher> {
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
  try {
    const [video] = media.getVideoTracks();
    const [audio] = media.getAudioTracks();
    if (!video) throw new LiveError("no_camera", "the stream has no video track");
    const videoTransceiver = pc.addTransceiver(video, { direction: "sendonly", streams: [media], sendEncodings: [encoding(level, video)] });
    preferH264(videoTransceiver);
    const audioSender = audio ? pc.addTransceiver(audio, { direction: "sendonly", streams: [media], sendEncodings: [audioEncoding(level)] }).sender : null;
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch(whipUrl, {
      method: "POST",
      headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` },
      body: pc.localDescription!.sdp,
    });
    if (response.status !== 201) throw await refusal(response);
    const session = new URL(response.headers.get("location") ?? "", whipUrl).toString();
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    return publisher(pc, videoTransceiver.sender, audioSender, session, token);
  } catch (error) {
    pc.close();
    throw error;
  }
}

function encoding(level: Level, track: MediaStreamTrack): RTCRtpEncodingParameters {
  const height = track.getSettings().height ?? CAPTURE.height;
  return { maxBitrate: level.kbps * 1000, maxFramerate: level.fps, scaleResolutionDownBy: Math.max(1, height / level.height) };
}

function audioEncoding(level: Level): RTCRtpEncodingParameters {
  return { maxBitrate: level.audioKbps * 1000 };
}

/** Puts `change` into the sender's only encoding. */
async function setEncoding(sender: RTCRtpSender, change: RTCRtpEncodingParameters): Promise<void> {
  const parameters = sender.getParameters();
  const [first] = parameters.encodings ?? [];
  if (!first || !sender.track) return;
  Object.assign(first, change);
  await sender.setParameters(parameters);
}

function publisher(pc: RTCPeerConnection, sender: RTCRtpSender, audioSender: RTCRtpSender | null, session: string, token: string): Publisher {
  let last: { at: number; bytes: number } | null = null;
  return {
    pc,
    async setLevel(level) {
      if (sender.track) await setEncoding(sender, encoding(level, sender.track));
      if (audioSender) await setEncoding(audioSender, audioEncoding(level));
    },
    replaceVideo: (track) => sender.replaceTrack(track),
    async sample() {
      const stats = await sender.getStats();
      const found: Sample = { availableKbps: null, lossFraction: null, rttMs: null, limitedByBandwidth: false, sentKbps: 0 };
      stats.forEach((report) => {
        if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") {
          if (typeof report.availableOutgoingBitrate === "number") found.availableKbps = report.availableOutgoingBitrate / 1000;
          if (typeof report.currentRoundTripTime === "number") found.rttMs = report.currentRoundTripTime * 1000;
        } else if (report.type === "outbound-rtp") {
          found.limitedByBandwidth = report.qualityLimitationReason === "bandwidth";
          const now = { at: report.timestamp as number, bytes: report.bytesSent as number };
          if (last && now.at > last.at) found.sentKbps = ((now.bytes - last.bytes) * 8) / (now.at - last.at);
          last = now;
        } else if (report.type === "remote-inbound-rtp" && typeof report.fractionLost === "number") {
          found.lossFraction = report.fractionLost;
        }
      });
      return found;
    },
    async stop() {
      pc.close();
      // Best effort: the relay also drops a camera that goes quiet.
      await fetch(session, { method: "DELETE", headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    },
  };
}

/**
 * The live events a screen handles; the heartbeat only keeps the connection's watchdog quiet
 * (`watchLive`).
 */
type LiveEventName = Exclude<LiveEvent["event"], "heartbeat">;

/** What the farmer's screen follows while live: a handler per live event, each given its data. */
export type LiveFeed = { [E in LiveEventName]?: (data: Extract<LiveEvent, { event: E }>["data"]) => void };

/**
 * How long the live events may stay silent before their connection counts as dead. The server
 * sends a heartbeat after 5 s of quiet (`Config::live_heartbeat` in the market crate), so this is
 * two missed heartbeats and some slack for a slow link.
 */
export const STALE_AFTER_MS = 12_000;

/**
 * Whether what the live events said can be trusted now: `fresh` once an event has come on the
 * current connection, `stale` while there is none that works.
 */
export type FeedLink = "fresh" | "stale";

/**
 * Follows a stream's live events; returns the function that stops. `onLink` hears when the events
 * stop or start reaching the screen.
 */
export function watchLive(eventsUrl: string, lang: string, feed: LiveFeed, onLink: (link: FeedLink) => void = () => undefined): () => void {
  const url = `${eventsUrl}?lang=${encodeURIComponent(lang)}`;
  let link: FeedLink | null = null;
  const tell = (next: FeedLink) => {
    if (next !== link) onLink((link = next));
  };
  /** When the current connection last said anything (set as it opens). */
  let heardAt = 0;
  const heard = () => {
    heardAt = Date.now();
    tell("fresh");
  };
  const open = () => {
    const source = new EventSource(url);
    heardAt = Date.now();
    for (const name of Object.keys(feed) as LiveEventName[]) {
      // The server words each event as the Rust type `LiveEvent` says (the bindings), so the
      // data parses to the handler's type.
      const handle = feed[name] as (data: unknown) => void;
      source.addEventListener(name, (event) => {
        heard();
        handle(JSON.parse((event as MessageEvent<string>).data));
      });
    }
    source.addEventListener("heartbeat", heard);
    // The browser opens a new connection by itself after an error (refused, closed); until an
    // event comes on it, what the screen shows may be out of date.
    source.addEventListener("error", () => tell("stale"));
    return source;
  };
  let source = open();
  // A connection can also die without a word: a phone that loses coverage keeps its half open
  // and hears nothing more, even after coverage returns. Only the silence tells, and then a new
  // connection starts again from the stream's state.
  const watchdog = setInterval(() => {
    if (Date.now() - heardAt < STALE_AFTER_MS) return;
    tell("stale");
    source.close();
    source = open();
  }, 1000);
  return () => {
    clearInterval(watchdog);
    source.close();
  };
}
