// "Go live": the farmer's camera screen. Before: the camera preview (front/back), a title and the
// products to show. Live: one tap features a product, the screen shows viewers, orders, the
// featured product's stock and the uplink's health, and the camera steps its quality down and up
// with the link (see live/uplink.ts). Where the webview has no WebRTC it says so plainly.
import { useEffect, useRef, useState } from "preact/hooks";

import {
  backend,
  BackendError,
  canPublish,
  LiveError,
  openCamera,
  publishCamera,
  watchLive,
  type Facing,
  type FeedLink,
  type ListingId,
  type LiveStatus,
  type LiveStream,
  type Produce,
  type Publisher,
} from "../api";
import { isMessageKey } from "../i18n";
import { useT } from "../i18n/context";
import { onAir, shownHealth, type Phase } from "../live/on-air";
import { initialUplink, levelAt, nextUplink, type Uplink } from "../live/uplink";

/** How often the camera reads its own stats to decide on its quality. */
const SAMPLE_EVERY_MS = 2000;
/** Waits between attempts to publish again after the connection failed. */
const RETRY_MS = [1000, 2000, 4000, 8000];

export function GoLiveScreen() {
  const { t } = useT();
  if (!canPublish()) {
    return (
      <section class="go-live">
        <p class="banner" role="status" data-testid="go-live-unsupported">
          {t("live.unsupported")}
        </p>
      </section>
    );
  }
  return <GoLive />;
}

function errorKey(error: unknown): string {
  const code = error instanceof BackendError ? error.api.code : error instanceof LiveError ? error.code : "unexpected";
  return `error.${code}`;
}

function GoLive() {
  const { t, locale } = useT();
  const preview = useRef<HTMLVideoElement>(null);
  const [media, setMedia] = useState<MediaStream | null>(null);
  const [facing, setFacing] = useState<Facing>("environment");
  const [produce, setProduce] = useState<Produce[]>([]);
  const [chosen, setChosen] = useState<ListingId[]>([]);
  const [title, setTitle] = useState("");
  const [phase, setPhase] = useState<Phase>("setup");
  const [stream, setStream] = useState<LiveStream | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [viewers, setViewers] = useState(0);
  const [orders, setOrders] = useState(0);
  const [stock, setStock] = useState("");
  const [uplink, setUplink] = useState<Uplink>(initialUplink);
  const [sentKbps, setSentKbps] = useState(0);
  // The camera's connection as the browser sees it, and the stream as the relay sees it: with the
  // phase they make the on-air badge (live/on-air.ts).
  const [connection, setConnection] = useState<RTCPeerConnectionState | null>(null);
  const [relay, setRelay] = useState<LiveStatus | null>(null);
  // Whether the live events reach the screen now; while they do not, the viewer and order figures
  // are the last ones heard, and the relay's last word may no longer hold.
  const [feed, setFeed] = useState<FeedLink | null>(null);
  const publisher = useRef<Publisher | null>(null);

  useEffect(() => {
    backend
      .listProduce()
      .then((items) => {
        const onSale = items.filter((item) => item.listing.status === "active");
        setProduce(onSale);
        setChosen(onSale.slice(0, 20).map((item) => item.listing.id));
      })
      .catch((error: unknown) => setFailure(errorKey(error)));
  }, []);

  // The camera follows the facing choice. A switch keeps the microphone and, while live, replaces
  // only the picture on the stream, so buyers neither lose the sound nor reconnect.
  const current = useRef<MediaStream | null>(null);
  useEffect(() => {
    let cancelled = false;
    openCamera(facing)
      .then(async (opened) => {
        const previous = current.current;
        if (cancelled) return opened.getTracks().forEach((track) => track.stop());
        const [video] = opened.getVideoTracks();
        let next = opened;
        if (previous && video) {
          opened.getAudioTracks().forEach((track) => track.stop());
          previous.getVideoTracks().forEach((track) => track.stop());
          next = new MediaStream([video, ...previous.getAudioTracks()]);
          if (publisher.current) await publisher.current.replaceVideo(video);
        }
        current.current = next;
        setMedia(next);
      })
      .catch(() => setFailure("live.no_camera"));
    return () => {
      cancelled = true;
    };
  }, [facing]);
  useEffect(() => {
    if (preview.current && media) preview.current.srcObject = media;
  }, [media]);
  // Leaving the screen stops the camera and the publishing; the stream stays open to come back to.
  useEffect(
    () => () => {
      void publisher.current?.stop();
      publisher.current = null;
      current.current?.getTracks().forEach((track) => track.stop());
    },
    [],
  );

  // While live: the live events, and the uplink's stats every two seconds.
  useEffect(() => {
    if (!stream || phase === "setup" || phase === "ended") return;
    const heard = (status: LiveStatus) => {
      setRelay(status);
      if (status === "ended") setPhase("ended");
    };
    const stop = watchLive(stream.events_url, locale, {
      state: (s) => {
        setViewers(s.viewers);
        setOrders(s.orders);
        setStock(s.featured?.stock_text ?? "");
        heard(s.status);
      },
      status: ({ status }) => heard(status),
      viewers: ({ count }) => setViewers(count),
      orders: ({ count }) => setOrders(count),
      stock: ({ stock_text }) => setStock(stock_text),
      featured: ({ featured }) => {
        if (featured) setStock(featured.stock_text);
      },
    }, setFeed);
    const timer = setInterval(async () => {
      const camera = publisher.current;
      if (!camera) return;
      const sample = await camera.sample();
      setSentKbps(Math.round(sample.sentKbps));
      setUplink((current) => {
        const next = nextUplink(current, sample);
        if (next.level !== current.level) void camera.setLevel(levelAt(next.level));
        return next;
      });
    }, SAMPLE_EVERY_MS);
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [stream?.id, phase === "setup" || phase === "ended"]);

  const connect = async (live: LiveStream, attempt = 0): Promise<void> => {
    if (!media || !live.publish_token) return;
    try {
      const camera = await publishCamera(live.whip_url, live.publish_token, media, levelAt(uplink.level));
      publisher.current = camera;
      camera.pc.addEventListener("connectionstatechange", () => {
        const state = camera.pc.connectionState;
        if (publisher.current !== camera) return;
        setConnection(state);
        if (state === "connected") setPhase("live");
        if (state === "failed") {
          setPhase("reconnecting");
          void camera.stop().then(() => retry(live, 0));
        }
      });
    } catch (error) {
      if (error instanceof LiveError && error.code !== "unexpected") {
        setFailure(errorKey(error));
        setPhase("setup");
        return;
      }
      setPhase("reconnecting");
      retry(live, attempt + 1);
    }
  };
  const retry = (live: LiveStream, attempt: number) => {
    setTimeout(() => void connect(live, attempt), RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]);
  };

  const start = async () => {
    setFailure(null);
    setPhase("starting");
    try {
      const live = await backend.goLive({ title, listing_ids: chosen });
      setStream(live);
      setStock("");
      setConnection(null);
      setRelay(null);
      setFeed(null);
      setPhase("connecting");
      await connect(live);
    } catch (error) {
      setFailure(errorKey(error));
      setPhase("setup");
    }
  };
  const feature = async (listing: ListingId) => {
    if (!stream) return;
    try {
      setStream({ ...(await backend.featureProduct(stream.id, listing)), publish_token: stream.publish_token });
    } catch (error) {
      setFailure(errorKey(error));
    }
  };
  const end = async () => {
    const camera = publisher.current;
    publisher.current = null;
    await camera?.stop();
    if (stream) await backend.endStream(stream.id).catch((error: unknown) => setFailure(errorKey(error)));
    setPhase("ended");
  };

  const live = phase !== "setup" && phase !== "ended" && stream !== null;
  const stale = feed === "stale";
  const badge = onAir(phase, connection, stale ? null : relay);
  const health = shownHealth(badge, uplink.health);
  const level = levelAt(uplink.level);
  return (
    <section class="go-live" aria-labelledby="go-live-heading">
      <h2 id="go-live-heading" class="visually-hidden">{t("live.title")}</h2>
      {failure && (
        <p class="banner error" role="alert" data-testid="live-error">
          {t(isMessageKey(failure) ? failure : "error.unexpected")}
        </p>
      )}
      <div class="camera">
        <video ref={preview} data-testid="camera-preview" autoplay muted playsInline />
        {live && badge && (
          <span class={`live-badge ${badge}`} data-testid="live-state" data-phase={badge} role="status">
            {t(`live.state.${badge}`)}
          </span>
        )}
        <button type="button" class="secondary switch" data-testid="switch-camera" onClick={() => setFacing(facing === "user" ? "environment" : "user")}>
          <span aria-hidden="true">⟲</span> {t("live.switch_camera")}
        </button>
      </div>
      {!live && phase !== "ended" && (
        <form
          class="live-setup"
          onSubmit={(event) => {
            event.preventDefault();
            void start();
          }}
        >
          <label>
            {t("live.stream_title")}
            <input data-testid="live-title" value={title} maxLength={80} placeholder={t("live.stream_title_placeholder")} onInput={(e) => setTitle(e.currentTarget.value)} />
          </label>
          <fieldset>
            <legend>{t("live.products")}</legend>
            {produce.length === 0 && <p class="muted">{t("live.no_products")}</p>}
            {produce.map((item) => (
              <label class="check">
                <input
                  type="checkbox"
                  data-testid="live-product"
                  checked={chosen.includes(item.listing.id)}
                  onChange={(e) =>
                    setChosen(e.currentTarget.checked ? [...chosen, item.listing.id] : chosen.filter((id) => id !== item.listing.id))
                  }
                />
                {item.listing.details.title}
              </label>
            ))}
          </fieldset>
          <button type="submit" class="primary big" data-testid="start-live" disabled={!media || chosen.length === 0 || phase === "starting"}>
            <span aria-hidden="true">●</span> {t(phase === "starting" ? "live.starting" : "live.start")}
          </button>
        </form>
      )}
      {live && stream && (
        <div class="live-panel">
          <p class={stale ? "live-figures stale" : "live-figures"} data-testid="live-figures" data-stale={stale}>
            <span data-testid="live-viewers">{t("live.viewers", { count: viewers })}</span>
            <span data-testid="live-orders">{t("live.orders", { count: orders })}</span>
          </p>
          {stale && (
            <p class="muted" role="status" data-testid="live-figures-stale">
              {t("live.figures_stale")}
            </p>
          )}
          {stock && <p data-testid="live-stock">{t("live.stock", { stock })}</p>}
          <p class={`uplink ${health}`} data-testid="uplink-health" data-health={health} data-level={uplink.level}>
            {health === "lost"
              ? t("live.uplink.lost")
              : `${t(`live.uplink.${health}`, { kbps: sentKbps })} · ${t("live.quality", { height: level.height, fps: level.fps })}`}
          </p>
          <ul class="live-products">
            {stream.listing_ids.map((id) => {
              const item = produce.find((p) => p.listing.id === id);
              const on = stream.featured === id;
              return (
                <li>
                  <span>{item?.listing.details.title ?? id}</span>
                  <button type="button" class={on ? "primary" : "secondary"} data-testid="feature-product" aria-pressed={on} onClick={() => void feature(id)}>
                    {t(on ? "live.featured" : "live.feature")}
                  </button>
                </li>
              );
            })}
          </ul>
          <p class="muted">
            {t("live.share")}{" "}
            <a href={stream.watch_url} data-testid="watch-url" target="_blank" rel="noreferrer">
              {stream.watch_url}
            </a>
          </p>
          <button type="button" class="danger big" data-testid="end-live" onClick={() => void end()}>
            {t("live.end")}
          </button>
        </div>
      )}
      {phase === "ended" && (
        <div class="live-panel">
          <p data-testid="live-ended">{t("live.state.ended")} · {t("live.orders", { count: orders })}</p>
          <button
            type="button"
            class="primary big"
            onClick={() => {
              setStream(null);
              setPhase("setup");
            }}
          >
            {t("live.again")}
          </button>
        </div>
      )}
    </section>
  );
}
