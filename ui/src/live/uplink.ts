// The camera's quality ladder and when to move along it: a pure function of the publisher's own
// WebRTC stats, sampled every two seconds, so the rules are unit-tested without a network.
//
// The top rung is 360p at 15 fps in 500 kbit/s; the bottom one, 180p at 10 fps in 150 kbit/s, is
// still watchable. The lower rungs turn the sound down too: on a 150 kbit/s uplink the voice at
// its usual 32 kbit/s, with its 50 packets' headers a second, would take a third of the link.
// Stepping down is quick (two bad samples) because a frozen picture loses buyers; stepping up is
// slow and backs off after a failed try, because a link that just recovered often drops again
// and every change costs the viewers a blurry moment.

/** One rung: the encoders' targets for the captured 640×360 picture and the microphone. */
export interface Level {
  height: number;
  fps: number;
  /** The video's bitrate cap. */
  kbps: number;
  /** The sound's bitrate cap (Opus; speech stays clear down to about 16 kbit/s). */
  audioKbps: number;
}

const TOP: Level = { height: 360, fps: 15, kbps: 500, audioKbps: 32 };

export const LEVELS: readonly Level[] = [
  TOP,
  { height: 270, fps: 15, kbps: 350, audioKbps: 32 },
  { height: 180, fps: 12, kbps: 220, audioKbps: 24 },
  { height: 180, fps: 10, kbps: 150, audioKbps: 16 },
];

/** What the stats of one interval say about the uplink; `null` where the browser said nothing. */
export interface Sample {
  /** The browser's bandwidth estimate (`availableOutgoingBitrate`). */
  availableKbps: number | null;
  /** The share of packets the relay reported lost (`fractionLost` of its receiver reports). */
  lossFraction: number | null;
  rttMs: number | null;
  /** The encoder says bandwidth holds it back (`qualityLimitationReason`). */
  limitedByBandwidth: boolean;
  /** What was actually sent in the interval. */
  sentKbps: number;
}

/** The rung at `index`; the top one for an index off the ladder. */
export function levelAt(index: number): Level {
  return LEVELS[index] ?? TOP;
}

export type Health = "good" | "weak" | "poor";

export interface Uplink {
  level: number;
  badStreak: number;
  goodStreak: number;
  /** Good samples needed before trying the next rung up; doubles after a try that failed. */
  upAfter: number;
  /** Samples since the last step up, to tell a failed try from a later drop. */
  sinceUp: number;
  health: Health;
}

export const DOWN_AFTER = 2;
export const UP_AFTER = 5;
export const UP_AFTER_MAX = 40;
/** A step down this soon after a step up means the try failed. */
const FAILED_TRY_WINDOW = 5;

export function initialUplink(): Uplink {
  return { level: 0, badStreak: 0, goodStreak: 0, upAfter: UP_AFTER, sinceUp: Number.POSITIVE_INFINITY, health: "good" };
}

/**
 * How far above a rung's video and sound the link's estimate must be for the link not to be what
 * holds the encoder back: the packets' headers share the link too.
 */
const HEADROOM = 1.15;

function isBad(sample: Sample, level: Level): boolean {
  // The encoder says bandwidth limits it whenever its budget does, and the budget is the lower
  // of the link's estimate and the rung's own cap. A busy scene (a field in the wind) runs into
  // the cap on a fast link too; stepping down for that would take a good uplink to the bottom
  // rung, so the encoder's word counts only when the estimate is what binds.
  const linkBinds = sample.availableKbps === null || sample.availableKbps < (level.kbps + level.audioKbps) * HEADROOM;
  return (
    (sample.lossFraction ?? 0) > 0.05 ||
    (sample.limitedByBandwidth && linkBinds) ||
    (sample.availableKbps !== null && sample.availableKbps < level.kbps * 0.9) ||
    (sample.rttMs ?? 0) > 1000
  );
}

/** The uplink after one more sample; a changed `level` means: apply it to the sender. */
export function nextUplink(state: Uplink, sample: Sample): Uplink {
  const bad = isBad(sample, levelAt(state.level));
  const next = { ...state, sinceUp: state.sinceUp + 1 };
  if (bad) {
    next.badStreak += 1;
    next.goodStreak = 0;
    if (next.badStreak >= DOWN_AFTER && next.level < LEVELS.length - 1) {
      if (next.sinceUp <= FAILED_TRY_WINDOW) next.upAfter = Math.min(next.upAfter * 2, UP_AFTER_MAX);
      next.level += 1;
      next.badStreak = 0;
    }
  } else {
    next.badStreak = 0;
    next.goodStreak += 1;
    if (next.goodStreak >= next.upAfter && next.level > 0) {
      next.level -= 1;
      next.goodStreak = 0;
      next.sinceUp = 0;
    }
  }
  const atBottom = next.level === LEVELS.length - 1;
  next.health = bad && atBottom ? "poor" : bad || next.level > 0 ? "weak" : "good";
  return next;
}
