import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TEST_DATA = path.join(ROOT, '.data', 'test');
export const TEMPLATE_DB = path.join(TEST_DATA, 'template.db');
export const WORKFLOW_BUNDLE = path.join(TEST_DATA, 'workflow-bundle.js');
