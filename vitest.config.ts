import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers and measure timeouts: two files at a time on a 2-core machine.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
