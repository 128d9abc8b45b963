// `npm run worker:bundle [file]`: bundles the workflows once (at image build time), so that workers start
// with WORKFLOW_BUNDLE_PATH instead of running webpack at each start (~700 MB of RSS and seconds of CPU).
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const file = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '.data', 'workflow-bundle.js'));
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  console.log(`workflow bundle written to ${file} (${Math.round(code.length / 1024)} KB); start workers with WORKFLOW_BUNDLE_PATH=${file}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
