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

/**
 * A change a screen makes: `act(run)` runs it, keeps the error code of a failure (null after a
 * success), and loads the screen's data again either way, since a refused change may still mean
 * the data moved underneath.
 */
export function useAction(reload: () => Promise<void>): { failure: string | null; act: (run: () => Promise<unknown>) => Promise<void> } {
  const [failure, setFailure] = useState<string | null>(null);
  const act = async (run: () => Promise<unknown>) => {
    try {
      await run();
      setFailure(null);
    } catch (error) {
      setFailure(errorCode(error));
    }
    await reload();
  };
  return { failure, act };
}

/** The code of a failed call, for `t(\`error.${code}\`)`. */
export function errorCode(error: unknown): string {
  return error instanceof BackendError ? error.api.code : "unexpected";
}
