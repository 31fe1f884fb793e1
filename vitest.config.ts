import { defineConfig } from 'vitest/config';

// Integration and e2e tests fork real processes (workers, Chromium, MariaDB), so test files run
// in forked pools and at most two at a time: the CI machine has two cores.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    globalSetup: ['tests/support/global-setup.ts'],
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});
