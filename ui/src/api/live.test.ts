// The live events' watchdog, with a stand-in EventSource and a fake clock: a connection that goes
// silent is replaced, one that errors is waited on, and the screen hears when what it shows is
// out of date.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { STALE_AFTER_MS, watchLive, type FeedLink } from "./live";

/** An EventSource that the test speaks for. */
class FakeSource extends EventTarget {
  static opened: FakeSource[] = [];
  closed = false;
  constructor(readonly url: string) {
    super();
    FakeSource.opened.push(this);
  }
  close() {
    this.closed = true;
  }
  send(name: string, data: unknown) {
    this.dispatchEvent(new MessageEvent(name, { data: JSON.stringify(data) }));
  }
}

const open = () => FakeSource.opened.filter((source) => !source.closed);

/** The one connection open now. */
function current(): FakeSource {
  const [source, ...others] = open();
  if (!source || others.length > 0) throw new Error(`${open().length} connections are open, not one`);
  return source;
}

describe("following a stream's live events", () => {
  let links: FeedLink[];
  let viewers: number[];
  let stop: () => void;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("EventSource", FakeSource);
    FakeSource.opened = [];
    links = [];
    viewers = [];
    stop = watchLive("https://market.test/api/v1/streams/s1/events", "zh-CN", { viewers: ({ count }) => viewers.push(count) }, (link) =>
      links.push(link),
    );
  });

  afterEach(() => {
    stop();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("asks in the screen's language and hands each event's data to its handler", () => {
    expect(open().map((source) => source.url)).toEqual(["https://market.test/api/v1/streams/s1/events?lang=zh-CN"]);
    current().send("viewers", { count: 3 });
    expect(viewers).toEqual([3]);
    expect(links).toEqual(["fresh"]);
  });

  it("keeps a connection that hears heartbeats, however quiet the stream", () => {
    const first = current();
    first.send("state", {});
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(5000);
      first.send("heartbeat", null);
    }
    expect(open()).toEqual([first]);
    expect(links).toEqual(["fresh"]);
  });

  it("replaces a connection that has gone silent, and says the figures are out of date until the new one speaks", () => {
    const first = current();
    first.send("viewers", { count: 1 });
    vi.advanceTimersByTime(STALE_AFTER_MS - 1000);
    expect(open()).toEqual([first]);
    vi.advanceTimersByTime(1000);
    expect(first.closed).toBe(true);
    const second = current();
    expect(second).not.toBe(first);
    expect(links).toEqual(["fresh", "stale"]);

    // Still out of coverage: the new connection is silent too, and is replaced in turn.
    vi.advanceTimersByTime(STALE_AFTER_MS);
    expect(second.closed).toBe(true);
    const third = current();
    third.send("viewers", { count: 2 });
    expect(links).toEqual(["fresh", "stale", "fresh"]);
    expect(viewers).toEqual([1, 2]);
  });

  it("says out of date at once on an error, and leaves the browser's own retry to it", () => {
    const first = current();
    first.send("viewers", { count: 1 });
    first.dispatchEvent(new Event("error"));
    expect(links).toEqual(["fresh", "stale"]);
    expect(open()).toEqual([first]);
    first.send("heartbeat", null);
    expect(links).toEqual(["fresh", "stale", "fresh"]);
  });

  it("stops for good", () => {
    stop();
    expect(open()).toEqual([]);
    vi.advanceTimersByTime(STALE_AFTER_MS * 3);
    expect(FakeSource.opened).toHaveLength(1);
  });
});
