// The production image (Dockerfile, docker-compose.yml): no secret baked into any layer, no root process. There is
// no Docker engine where the tests run, so the files are read as Docker reads them.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (name: string) => fs.readFileSync(path.join(ROOT, name), 'utf8');

describe('the production image', () => {
  it('never copies .env, keys or local data into the image', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', '*.pem', '*.key', '.data', '.git']));
    // Everything reaches the image through COPY . ., so .dockerignore is what decides.
    expect(read('Dockerfile')).toMatch(/^COPY \. \.$/m);
  });

  it('runs its process as the unprivileged node user, which owns only the data folder', () => {
    const lines = read('Dockerfile').split('\n').filter((l) => /^[A-Z]+ /.test(l));
    const user = lines.findIndex((l) => l === 'USER node');
    const lastRun = lines.map((l) => l.startsWith('RUN ')).lastIndexOf(true);
    expect(user).toBeGreaterThan(lastRun);
    expect(lines.findIndex((l) => l.startsWith('CMD '))).toBeGreaterThan(user);
    expect(read('Dockerfile')).toContain('chown node:node /app/.data');
  });

  it('takes secrets from the environment compose reads on the host, never from a file in the image', () => {
    const compose = read('docker-compose.yml');
    expect(compose).not.toMatch(/env_file|\.env:/);
    expect(compose).toContain('TRACKING_SECRET: ${TRACKING_SECRET:?');
    expect(compose).toContain('ERASURE_SECRET: ${ERASURE_SECRET:?');
  });
});
