// The one module that talks to the backend. Screens import from here and never from
// `@tauri-apps/*`, so the transport can change without touching a screen. Every request is a
// `Call` (generated from the Rust enum `client::calls::Call`); inside the Tauri app it goes over
// IPC to the one command `call`, in a browser (tests, development) over the loopback bridge of
// `fieldcast-device serve-ui`. Errors always arrive as `BackendError` carrying the backend's code.
import { invoke } from "@tauri-apps/api/core";
import { emit, listen } from "@tauri-apps/api/event";
import { isPermissionGranted, requestPermission, sendNotification } from "@tauri-apps/plugin-notification";

import type {
  AccountInfo,
  ApiError,
  BulkOutcome,
  Call,
  DeviceId,
  DeviceInfo,
  DeviceStatus,
  Earnings,
  Listing,
  ListingId,
  ListingInput,
  LiveStream,
  MemberId,
  MemberInfo,
  NewFarmer,
  OrderAction,
  OrderArrival,
  OrderId,
  OrderItem,
  PairingInfo,
  PairingLink,
  PickList,
  PickupPointId,
  PickupPointInfo,
  Produce,
  Progress,
  Refusal,
  SaleInput,
  SalePreview,
  StreamId,
  StreamInput,
  Today,
} from "./bindings";

export type * from "./bindings";
export { DOMAIN_ERROR_CODES } from "./bindings";
export { canPublish, LiveError, openCamera, publishCamera, watchLive, type Facing, type FeedLink, type LiveFeed, type Publisher } from "./live";

/** A failed backend call; `api.code` tells failures apart, `api.fields` names bad form fields. */
export class BackendError extends Error {
  constructor(readonly api: ApiError) {
    super(api.message);
    this.name = "BackendError";
  }
}

function isApiError(value: unknown): value is ApiError {
  const candidate = value as Partial<ApiError> | null;
  return typeof candidate?.code === "string" && typeof candidate.message === "string" && Array.isArray(candidate.fields);
}

type Unlisten = () => void;

/** How requests and events travel. */
interface Transport {
  call(request: Call): Promise<unknown>;
  listen(event: string, handler: (payload: unknown) => void): Promise<Unlisten>;
  /** Tells the shell the first screen is painted (the start-up benchmark reads it). */
  painted(): Promise<void>;
  /** Shows a system notification, asking for permission the first time; false if not allowed. */
  notify(title: string, body: string): Promise<boolean>;
  /** Opens the system's print dialog for the page as it is (the print stylesheet applies). */
  print(): Promise<void>;
}

const tauri: Transport = {
  call: (request) => invoke("call", { request }),
  listen: (event, handler) => listen(event, (e) => handler(e.payload)),
  painted: () => emit("painted"),
  async notify(title, body) {
    const allowed = (await isPermissionGranted()) || (await requestPermission()) === "granted";
    if (allowed) sendNotification({ title, body });
    return allowed;
  },
  // The shell prints the webview itself (Tauri's webview `print`): one path on every desktop,
  // where macOS's webview has no `window.print()`, and WebKitGTK ignores `window.print()` while
  // WebDriver drives it, so the app's print test could not press the button.
  print: () => invoke("plugin:webview|print"),
};

/** The bridge of `fieldcast-device serve-ui`, on the page's own origin. */
const bridge: Transport = {
  async call(request) {
    const response = await fetch("/rpc", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
    const body: unknown = await response.json();
    if (!response.ok) throw body;
    return body;
  },
  async listen(event, handler) {
    const source = new EventSource("/events");
    source.addEventListener(event, (e) => handler(JSON.parse((e as MessageEvent<string>).data)));
    return () => source.close();
  },
  // A browser has no shell to tell.
  painted: async () => undefined,
  async notify(title, body) {
    if (!("Notification" in window)) return false;
    const allowed = Notification.permission === "granted" || (await Notification.requestPermission()) === "granted";
    if (allowed) new Notification(title, { body });
    return allowed;
  },
  print: async () => window.print(),
};

const transport: Transport = "__TAURI_INTERNALS__" in window ? tauri : bridge;

async function call<T>(request: Call): Promise<T> {
  try {
    return (await transport.call(request)) as T;
  } catch (error) {
    // Requests reject with an ApiError; anything else (IPC down, a panic) becomes "unexpected".
    throw new BackendError(isApiError(error) ? error : { code: "unexpected", message: String(error), fields: [] });
  }
}

/** The file's bytes as base64, for a JSON call. */
function base64Of(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new BackendError({ code: "invalid_photo", message: "the file could not be read", fields: [] }));
    reader.readAsDataURL(file);
  });
}

export const backend = {
  listProduce: () => call<Produce[]>({ command: "list_produce" }),
  addProduce: (input: ListingInput) => call<Listing>({ command: "add_produce", args: { input } }),
  editProduce: (id: ListingId, input: ListingInput) => call<Listing>({ command: "edit_produce", args: { id, input } }),
  /** Sends a photo file from the camera or gallery; the backend processes it and keeps it. */
  addPhoto: async (listingId: ListingId, file: Blob) =>
    call<Listing>({ command: "add_photo", args: { listing_id: listingId, data_base64: await base64Of(file) } }),
  /** A stored photo as a `data:` URL: the thumbnail, or the 1280 px photo with `full`. */
  photo: (sha256: string, full = false) => call<string>({ command: "photo", args: { sha256, full } }),
  pauseProduce: (id: ListingId) => call<Listing>({ command: "pause_produce", args: { id } }),
  resumeProduce: (id: ListingId) => call<Listing>({ command: "resume_produce", args: { id } }),
  listOrders: () => call<OrderItem[]>({ command: "list_orders" }),
  stepOrder: (id: OrderId, action: OrderAction, reason: string | null = null) =>
    call<OrderItem>({ command: "step_order", args: { id, action, reason } }),
  stepOrders: (ids: OrderId[], action: OrderAction) => call<BulkOutcome>({ command: "step_orders", args: { ids, action } }),
  recordPayment: (id: OrderId, amount: string) => call<OrderItem>({ command: "record_payment", args: { id, amount } }),
  sell: (input: SaleInput) => call<OrderItem>({ command: "sell", args: { input } }),
  previewSale: (listingId: ListingId, quantity: string) =>
    call<SalePreview>({ command: "preview_sale", args: { listing_id: listingId, quantity } }),
  pickupPoints: () => call<PickupPointInfo[]>({ command: "pickup_points" }),
  today: (offsetMinutes: number) => call<Today>({ command: "today", args: { offset_minutes: offsetMinutes } }),
  earnings: (offsetMinutes: number, days: number) => call<Earnings>({ command: "earnings", args: { offset_minutes: offsetMinutes, days } }),
  pickList: (pointId: PickupPointId, date: string, offsetMinutes: number) =>
    call<PickList>({ command: "pick_list", args: { point_id: pointId, date, offset_minutes: offsetMinutes } }),
  pickListCsv: (pointId: PickupPointId, date: string, offsetMinutes: number) =>
    call<string>({ command: "pick_list_csv", args: { point_id: pointId, date, offset_minutes: offsetMinutes } }),
  exportOrdersCsv: () => call<string>({ command: "export_orders_csv" }),
  deviceStatus: () => call<DeviceStatus>({ command: "device_status" }),
  members: () => call<MemberInfo[]>({ command: "members" }),
  addFarmer: (name: string) => call<NewFarmer>({ command: "add_farmer", args: { name } }),
  newPairingCode: (memberId: MemberId) => call<PairingInfo>({ command: "new_pairing_code", args: { member_id: memberId } }),
  devices: () => call<DeviceInfo[]>({ command: "devices" }),
  revokeDevice: (deviceId: DeviceId) => call<void>({ command: "revoke_device", args: { device_id: deviceId } }),
  pair: (serverUrl: string, code: string, deviceName: string) =>
    call<AccountInfo>({ command: "pair", args: { server_url: serverUrl, code, device_name: deviceName } }),
  /** A photo of the co-op's pairing QR code: the server address and code it carries. */
  readPairingCode: async (file: Blob) => call<PairingLink>({ command: "read_pairing_code", args: { data_base64: await base64Of(file) } }),
  renameDevice: (name: string) => call<AccountInfo>({ command: "rename_device", args: { name } }),
  signOut: () => call<void>({ command: "sign_out" }),
  syncNow: () => call<void>({ command: "sync_now" }),
  syncProgress: () => call<Progress>({ command: "sync_progress" }),
  networkChanged: (online: boolean) => call<void>({ command: "network_changed", args: { online } }),
  goLive: (input: StreamInput) => call<LiveStream>({ command: "go_live", args: { input } }),
  featureProduct: (streamId: StreamId, listingId: ListingId) =>
    call<LiveStream>({ command: "feature_product", args: { stream_id: streamId, listing_id: listingId } }),
  endStream: (streamId: StreamId) => call<LiveStream>({ command: "end_stream", args: { stream_id: streamId } }),
  /** A system notification (new order); false when the person did not allow them. */
  notify: (title: string, body: string): Promise<boolean> => transport.notify(title, body),
  /** The system's print dialog for what the screen shows (a pick list). */
  print: async (): Promise<void> => {
    try {
      await transport.print();
    } catch (error) {
      throw new BackendError({ code: "unexpected", message: String(error), fields: [] });
    }
  },
  /** Calls `handler` with the buyers' orders each pull brings in. */
  onOrdersArrived: (handler: (orders: OrderArrival[]) => void): Promise<Unlisten> =>
    transport.listen("orders-arrived", (o) => handler(o as OrderArrival[])),
  /** Reports, once, that the first screen is painted. */
  painted: (): Promise<void> => transport.painted(),
  /** Calls `handler` with every sync progress update; returns the function that stops listening. */
  onSyncProgress: (handler: (progress: Progress) => void): Promise<Unlisten> => transport.listen("sync-progress", (p) => handler(p as Progress)),
  /** Calls `handler` when the marketplace refuses one of this device's changes. */
  onSyncRefused: (handler: (refusal: Refusal) => void): Promise<Unlisten> => transport.listen("sync-refused", (r) => handler(r as Refusal)),
  /** In the app, where a file the front end saved (a CSV export) landed; browsers show their own. */
  onDownloaded: (handler: (download: { path: string | null; success: boolean }) => void): Promise<Unlisten> =>
    transport.listen("downloaded", (d) => handler(d as { path: string | null; success: boolean })),
};
