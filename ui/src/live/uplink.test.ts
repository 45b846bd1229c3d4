// The quality ladder's rules, sample by sample: when the camera steps down, when it climbs back.
import { describe, expect, test } from "vitest";

import { DOWN_AFTER, LEVELS, levelAt, UP_AFTER, initialUplink, nextUplink, type Sample, type Uplink } from "./uplink";

const clean: Sample = { availableKbps: 2000, lossFraction: 0, rttMs: 40, limitedByBandwidth: false, sentKbps: 480 };
const lossy: Sample = { ...clean, lossFraction: 0.12 };

function feed(state: Uplink, samples: Sample[]): Uplink {
  return samples.reduce(nextUplink, state);
}

describe("the uplink ladder", () => {
  test("the top rung is 360p at 15 fps within 500 kbit/s, the bottom one 150 kbit/s", () => {
    expect(LEVELS[0]).toEqual({ height: 360, fps: 15, kbps: 500, audioKbps: 32 });
    expect(LEVELS.at(-1)!.kbps).toBe(150);
    expect(LEVELS.every((level, i) => i === 0 || level.kbps < levelAt(i - 1).kbps)).toBe(true);
    expect(LEVELS.every((level, i) => i === 0 || level.audioKbps <= levelAt(i - 1).audioKbps)).toBe(true);
  });

  test("a clean link stays at the top and says good", () => {
    const state = feed(initialUplink(), Array(20).fill(clean));
    expect(state.level).toBe(0);
    expect(state.health).toBe("good");
  });

  test("one bad sample is noise; two step down", () => {
    const once = feed(initialUplink(), [lossy]);
    expect(once.level).toBe(0);
    expect(once.health).toBe("weak");
    expect(feed(initialUplink(), Array(DOWN_AFTER).fill(lossy)).level).toBe(1);
  });

  test("each kind of bad news steps down", () => {
    const slow: Sample = { ...clean, availableKbps: 300 };
    const limited: Sample = { ...clean, availableKbps: 600, limitedByBandwidth: true };
    const limitedUnknown: Sample = { ...clean, availableKbps: null, limitedByBandwidth: true };
    const laggy: Sample = { ...clean, rttMs: 1500 };
    for (const sample of [slow, lossy, limited, limitedUnknown, laggy]) expect(feed(initialUplink(), [sample, sample]).level).toBe(1);
  });

  test("a busy scene held back by the rung's own cap on a fast link is not bad news", () => {
    // The encoder reports a bandwidth limit, but the link could carry far more than the cap.
    const busy: Sample = { ...clean, availableKbps: 1100, limitedByBandwidth: true };
    const state = feed(initialUplink(), Array(20).fill(busy));
    expect(state.level).toBe(0);
    expect(state.health).toBe("good");
    // On a lower rung the same scene lets the camera climb back.
    const down = feed(initialUplink(), Array(DOWN_AFTER).fill(lossy));
    expect(feed(down, Array(UP_AFTER).fill(busy)).level).toBe(0);
  });

  test("a link at 150 kbit/s settles on the bottom rung, not below it", () => {
    const weak: Sample = { ...clean, availableKbps: 150, limitedByBandwidth: true };
    const state = feed(initialUplink(), Array(30).fill(weak));
    expect(state.level).toBe(LEVELS.length - 1);
    expect(state.health).toBe("poor");
  });

  test("a recovered link climbs back one rung at a time", () => {
    const down = feed(initialUplink(), Array(2 * DOWN_AFTER).fill(lossy));
    expect(down.level).toBe(2);
    const one = feed(down, Array(UP_AFTER).fill(clean));
    expect(one.level).toBe(1);
    const top = feed(one, Array(UP_AFTER).fill(clean));
    expect(top.level).toBe(0);
    expect(top.health).toBe("good");
  });

  test("a try up that fails right away makes the next try wait twice as long", () => {
    const down = feed(initialUplink(), Array(DOWN_AFTER).fill(lossy));
    const tried = feed(down, Array(UP_AFTER).fill(clean));
    expect(tried.level).toBe(0);
    const failed = feed(tried, Array(DOWN_AFTER).fill(lossy));
    expect(failed.level).toBe(1);
    expect(failed.upAfter).toBe(2 * UP_AFTER);
    expect(feed(failed, Array(UP_AFTER).fill(clean)).level).toBe(1);
    expect(feed(failed, Array(2 * UP_AFTER).fill(clean)).level).toBe(0);
  });
});
