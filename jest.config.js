/** Unit tests (domain) and integration tests (real Temporal dev server, SMTP server, SQLite file). */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The fault suite is slow by design (kills, outages): `npm run test:faults` runs it.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  // Type errors are caught by `tsc --noEmit` in `npm test`; ts-jest only transpiles.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  testTimeout: 180_000,
};
