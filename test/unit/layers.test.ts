// The layers, lowest first: domain ← store ← activities / workflows ← temporal (what the processes share) ←
// worker / tracking / client ← stack. No module imports from a layer above its own, nor from a peer process.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const LEVEL: Record<string, number> = { domain: 0, store: 1, activities: 2, workflows: 2, temporal: 3, worker: 4, tracking: 4, client: 4, stack: 5 };
/** The one exception of Temporal's own pattern: workflows see activities' types. */
const ALLOWED = [
  { from: 'workflows', to: 'activities', typeOnly: true },
];

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

describe('the layers of the code', () => {
  it('import only from layers below (or the Temporal exception), never from a peer process', () => {
    const violations: string[] = [];
    for (const layer of Object.keys(LEVEL)) {
      for (const file of sources(layer)) {
        const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
        for (const m of text.matchAll(/^import (type )?[^;]*? from '(\.\.?\/[^']+)';/gms)) {
          const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), m[2]));
          const targetLayer = target.split(path.sep)[0];
          if (!(targetLayer in LEVEL) || targetLayer === layer) continue;
          const allowed = LEVEL[targetLayer] < LEVEL[layer]
            || ALLOWED.some((a) => a.from === layer && (target === a.to || target.startsWith(`${a.to}/`) || (a.to === targetLayer)) && (!a.typeOnly || m[1]));
          if (!allowed) violations.push(`${file} imports ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps every source file under 300 lines (generated code and tests aside): small modules named by role', () => {
    const long = Object.keys(LEVEL).concat('bench').flatMap(sources)
      .map((file) => ({ file, lines: fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > 300);
    expect(long).toEqual([]);
  });
});
