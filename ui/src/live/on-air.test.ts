// The on-air badge's rules, without a camera or a network.
import { describe, expect, it } from "vitest";

import { onAir, shownHealth } from "./on-air";

describe("the farmer's on-air badge", () => {
  it("says live while the connection holds and the relay hears the camera", () => {
    expect(onAir("live", "connected", "live")).toBe("live");
    // The relay's word can lag the connection by a moment at the start: no false alarm.
    expect(onAir("live", "connected", "waiting")).toBe("live");
    expect(onAir("live", "connected", null)).toBe("live");
  });

  it("says buyers cannot see the farmer when the relay hears nothing, whatever the browser thinks", () => {
    expect(onAir("live", "connected", "interrupted")).toBe("interrupted");
  });

  it("says so too when the browser has lost the relay and the relay's word cannot come", () => {
    expect(onAir("live", "disconnected", null)).toBe("interrupted");
    expect(onAir("live", "disconnected", "live")).toBe("interrupted");
  });

  it("leaves connecting and reconnecting to the screen's own phase", () => {
    expect(onAir("connecting", "connecting", null)).toBe("connecting");
    expect(onAir("starting", null, null)).toBe("connecting");
    expect(onAir("reconnecting", "disconnected", "interrupted")).toBe("reconnecting");
    expect(onAir("reconnecting", null, "waiting")).toBe("reconnecting");
  });

  it("is not shown before the stream starts or after it ends", () => {
    expect(onAir("setup", null, null)).toBeNull();
    expect(onAir("ended", "connected", "live")).toBeNull();
    expect(onAir("ended", "disconnected", "ended")).toBeNull();
  });
});

describe("the uplink line", () => {
  it("says the connection is lost while nothing gets through, not what the stats last said", () => {
    expect(shownHealth("interrupted", "good")).toBe("lost");
    expect(shownHealth("reconnecting", "weak")).toBe("lost");
    expect(shownHealth("live", "weak")).toBe("weak");
    expect(shownHealth("connecting", "good")).toBe("good");
  });
});
