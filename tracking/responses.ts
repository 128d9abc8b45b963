// The tracking server's answers: plain text, a small HTML page, and a bounded read of a request body.
import type http from 'node:http';

export function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

export function page(res: http.ServerResponse, status: number, title: string, body: string, trustedHtml = false): void {
  const content = trustedHtml ? body : `<p>${body}</p>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'" });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>` +
    `<body style="font-family:sans-serif;max-width:32em;margin:3em auto">${content}</body></html>`);
}

/** A request body, or undefined once it passes the limit (the rest is not read: the connection is dropped). */
export function bodyOf(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      resolve(undefined);
      req.destroy();
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

/** Reads a request body, false when it is larger than the limit. */
export async function bodyWithin(req: http.IncomingMessage, limit: number): Promise<boolean> {
  return (await bodyOf(req, limit)) !== undefined;
}
