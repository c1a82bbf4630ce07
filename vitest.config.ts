import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Failure bounds only: tests wait for events, never for the clock, so these decide nothing
    // unless something hangs, and are wide enough for a machine busy with other work.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and measure timeouts: two files at a time on a 2-core machine.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
