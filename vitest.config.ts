import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests spawn real servers and binaries: give them room, and run files in
    // separate processes so ports and global OpenTelemetry state never leak between files.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
