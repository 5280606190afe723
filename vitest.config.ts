import { defineConfig } from 'vitest/config';

// The Temporal native bridge crashes under worker threads: always use forked processes.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          // Correctness, not speed (that is `npm run bench`): a 2-core machine under load may take far over 5 s.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          pool: 'forks',
          // One real stack is shared by every integration file: run them one at a time.
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
          globalSetup: ['test/integration/global-setup.ts'],
          setupFiles: ['test/integration/setup.ts'],
        },
      },
    ],
  },
});
