import { defineConfig } from 'vitest/config';

// Integration and e2e tests fork real processes (workers, Chromium, MariaDB), so test files run
// in forked pools and at most two at a time: the CI machine has two cores. The CI-sized chaos run
// loads the machine on its own and measures recovery: it runs last, alone (groupOrder 1).
const CHAOS = 'tests/e2e/chaos.test.ts';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    globalSetup: ['tests/support/global-setup.ts'],
    reporters: ['default', './tests/support/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'suite', include: ['tests/**/*.test.ts'], exclude: [CHAOS], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'chaos', include: [CHAOS], sequence: { groupOrder: 1 } } },
    ],
  },
});
