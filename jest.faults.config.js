/** The fault suite: the real stack under kills, outages and locks; prints the table of faults at the end. */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalTeardown: '<rootDir>/test/faults/print-fault-table.ts',
  testTimeout: 300_000,
};
