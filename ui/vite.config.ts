// Vite builds the front end into ui/dist, which Tauri embeds into the app binary.
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Preact's automatic JSX runtime; no framework plugin needed.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  // Tauri serves the files from its own protocol, so relative asset paths keep working there.
  base: "./",
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
