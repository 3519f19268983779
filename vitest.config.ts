import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Workflow bundling (webpack) and the Temporal native bridge need real processes, not threads.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The global teardown runs the invariant checker: give it time (vitest's default is 10 s, after
    // which it exits with the tests' own status, as if the check had passed).
    teardownTimeout: 180_000,
    // Each failed test is reported once; a flaky pass would hide a money bug.
    retry: 0,
    reporters: ['default'],
  },
});
