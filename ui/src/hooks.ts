// Loading backend data into a screen: the value, the error code, and a way to load again.
import { useEffect, useState } from "preact/hooks";

import { BackendError } from "./api";

export interface Loaded<T> {
  data: T | null;
  /** The backend's error code of the last failed load, or null. */
  failure: string | null;
  reload: () => Promise<void>;
}

export function useBackend<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const reload = async () => {
    try {
      setData(await load());
      setFailure(null);
    } catch (error) {
      setFailure(errorCode(error));
    }
  };
  useEffect(() => {
    void reload();
  }, deps);
  return { data, failure, reload };
}

/** The code of a failed call, for `t(\`error.${code}\`)`. */
export function errorCode(error: unknown): string {
  return error instanceof BackendError ? error.api.code : "unexpected";
}
