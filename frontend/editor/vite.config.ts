import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// Emits exactly frontend/static/editor/{editor.js, editor.css, codec-worker.js}: stable names,
// because the Django template references /static/editor/editor.js and editor.css directly.
export default defineConfig({
  base: "/static/editor/",
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL("../static/editor/", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    cssCodeSplit: false,
    modulePreload: false,
    rollupOptions: {
      input: fileURLToPath(new URL("./src/main.ts", import.meta.url)),
      preserveEntrySignatures: "exports-only",
      output: {
        format: "es",
        entryFileNames: "editor.js",
        chunkFileNames: "[name].js",
        assetFileNames: (asset) => (asset.names.some((n) => n.endsWith(".css")) ? "editor.css" : "[name][extname]"),
      },
    },
  },
  worker: {
    format: "es",
    rollupOptions: {
      output: { entryFileNames: "codec-worker.js", chunkFileNames: "codec-worker-[name].js" },
    },
  },
});
