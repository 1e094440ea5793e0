import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The example plugins import the package by name; in tests that is the source itself.
  resolve: { alias: { 'interp-cli': new URL('./src/index.ts', import.meta.url).pathname } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // onnxruntime sessions are heavy; two cores gain nothing from many workers.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
