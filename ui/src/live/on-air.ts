// What the farmer's screen says about being on air, worked out from the three things that know:
// the screen's own phase (connecting, live, publishing again after a failure), the camera's
// connection as the browser sees it, and what the relay says it hears (the live events' status).
//
// The browser notices a dead uplink late: Chromium calls the connection "disconnected" about 7 s
// after the last answer and "failed" only after about 17. The relay, which stops hearing the
// camera, says "interrupted" after 2 s, and that reaches the screen over HTTP whenever the phone
// still has some way out. Either tells the farmer that buyers see a frozen picture, long before
// the app gives the connection up and publishes again (tests/browser/weak-links.test.mjs checks
// both ways).
import type { LiveStatus } from "../api";
import type { Health } from "./uplink";

/** Where the Go Live screen is; `reconnecting` means publishing again after a failed connection. */
export type Phase = "setup" | "starting" | "connecting" | "live" | "reconnecting" | "ended";

/** What the badge over the camera says while the stream is open. */
export type OnAir = "connecting" | "live" | "interrupted" | "reconnecting";

/** The badge, or null before the stream starts and after it ends, when there is none. */
export function onAir(phase: Phase, connection: RTCPeerConnectionState | null, relay: LiveStatus | null): OnAir | null {
  switch (phase) {
    case "setup":
    case "ended":
      return null;
    case "starting":
    case "connecting":
      return "connecting";
    case "reconnecting":
      return "reconnecting";
    case "live":
      return connection === "disconnected" || relay === "interrupted" ? "interrupted" : "live";
  }
}

/**
 * The uplink line under the badge. Its health comes from the camera's own stats, which go on
 * looking good into a dead link (the browser sends at full rate and no report comes back to say
 * otherwise), so while nothing gets through it says that instead.
 */
export function shownHealth(badge: OnAir | null, health: Health): Health | "lost" {
  return badge === "interrupted" || badge === "reconnecting" ? "lost" : health;
}
