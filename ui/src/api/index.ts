// The one module that talks to the backend. Screens import from here and never from
// `@tauri-apps/*`, so the transport can change (Tauri IPC today; HTTP for browser tests later)
// without touching a screen. Errors always arrive as `BackendError` carrying the backend's code.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type {
  AccountInfo,
  ApiError,
  DeviceStatus,
  Listing,
  ListingId,
  ListingInput,
  OrderItem,
  Produce,
  Progress,
  Refusal,
} from "./bindings";

export type * from "./bindings";
export { DOMAIN_ERROR_CODES } from "./bindings";

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

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    // Commands reject with an ApiError; anything else (IPC down, a panic) becomes "unexpected".
    throw new BackendError(isApiError(error) ? error : { code: "unexpected", message: String(error), fields: [] });
  }
}

export const backend = {
  listProduce: () => call<Produce[]>("list_produce"),
  addProduce: (input: ListingInput) => call<Listing>("add_produce", { input }),
  editProduce: (id: ListingId, input: ListingInput) => call<Listing>("edit_produce", { id, input }),
  pauseProduce: (id: ListingId) => call<Listing>("pause_produce", { id }),
  resumeProduce: (id: ListingId) => call<Listing>("resume_produce", { id }),
  listOrders: () => call<OrderItem[]>("list_orders"),
  deviceStatus: () => call<DeviceStatus>("device_status"),
  pair: (serverUrl: string, code: string, deviceName: string) => call<AccountInfo>("pair", { serverUrl, code, deviceName }),
  syncNow: () => call<void>("sync_now"),
  syncProgress: () => call<Progress>("sync_progress"),
  networkChanged: (online: boolean) => call<void>("network_changed", { online }),
  /** Calls `handler` with every sync progress update; returns the function that stops listening. */
  onSyncProgress: (handler: (progress: Progress) => void): Promise<UnlistenFn> =>
    listen<Progress>("sync-progress", (event) => handler(event.payload)),
  /** Calls `handler` when the marketplace refuses one of this device's changes. */
  onSyncRefused: (handler: (refusal: Refusal) => void): Promise<UnlistenFn> =>
    listen<Refusal>("sync-refused", (event) => handler(event.payload)),
};
