import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
    // Two shared cores: one worker pool thread is enough and keeps the machine usable.
    poolOptions: { threads: { maxThreads: 2, minThreads: 1 } },
  },
});
