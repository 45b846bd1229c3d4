// A TCP path to the server that can die without a word, as a phone's connections do when it loses
// coverage: its half of each connection stays open and hears nothing more, and even after coverage
// returns those connections stay dead (the phone's address changed, or the operator's NAT forgot
// them). No FIN, no RST, no error: only new connections work again.
//
// A test points a browser's requests at it with a Playwright route (`through`), which changes the
// URL a request goes to without the page seeing it.
import net from "node:net";

/** Starts a link to `upstream` (an origin such as `http://127.0.0.1:8080`). */
export async function startTcpLink(upstream) {
  const target = new URL(upstream);
  let down = false;
  /** Every pair of sockets the link has made, `{ client, server, dead }`. */
  const pairs = new Set();
  const stats = { connections: 0, buried: 0 };

  function bury(pair) {
    if (pair.dead) return;
    pair.dead = true;
    stats.buried += 1;
    pair.client.unpipe();
    pair.server.unpipe();
    pair.client.pause();
    pair.server.pause();
  }

  const front = net.createServer((client) => {
    stats.connections += 1;
    const server = net.connect(Number(target.port), target.hostname);
    const pair = { client, server, dead: false };
    pairs.add(pair);
    // Either side closing closes the other, as long as the path carries anything at all; a dead
    // pair stays until the link closes.
    const end = (other) => () => {
      if (pair.dead) return;
      pairs.delete(pair);
      other.destroy();
    };
    client.on("close", end(server));
    server.on("close", end(client));
    client.on("error", () => undefined);
    server.on("error", () => undefined);
    if (down) return bury(pair);
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise((resolve) => front.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${front.address().port}`;

  return {
    stats,
    /** `url` (on the server) as reached through the link. */
    via(url) {
      const moved = new URL(url);
      moved.host = host;
      return moved.toString();
    },
    /**
     * Sends the requests of `context` (a Playwright browser context) for which `matches(url)` is
     * true through the link.
     */
    through(context, matches) {
      return context.route(matches, (route) => route.continue({ url: this.via(route.request().url()) }));
    },
    /**
     * Coverage lost (`true`): every connection open now, or opened until it comes back, is dead for
     * good. Coverage back (`false`): new connections work.
     */
    cut(dead) {
      down = dead;
      if (dead) for (const pair of pairs) bury(pair);
    },
    close() {
      front.close();
      for (const { client, server } of pairs) {
        client.destroy();
        server.destroy();
      }
    },
  };
}
