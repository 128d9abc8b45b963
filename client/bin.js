#!/usr/bin/env node
// Entry point of the `delivery` command: runs the TypeScript CLI through tsx (no build step).
require('tsx/cjs');
require('./cli.ts').main(process.argv).then((code) => process.exit(code));
