// The operator console: static files built into dist/ui (`npm run build`), served at /ui/ from
// memory with a strict Content-Security-Policy. The page holds no secrets: the operator types a
// token, the page keeps it in sessionStorage and sends it as a bearer header to /v1 (no cookies,
// so no cross-site request can carry it).

import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Scripts and styles only from this origin, no inline code, no framing, requests only to this origin. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The built console beside the compiled server (dist/http → dist/ui). */
export const CONSOLE_DIR = path.join(import.meta.dirname, '../ui');

/** Reads the console's files once; a server without a built console says how to build it. */
export function registerConsole(app: FastifyInstance, dir = CONSOLE_DIR): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir)) {
      const type = TYPES[path.extname(name)];
      const full = path.join(dir, name);
      if (type && fs.statSync(full).isFile()) files.set(name, { body: fs.readFileSync(full), type });
    }
  }
  const headers = {
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/', 308));
  app.get('/ui/*', async (req, reply) => {
    const name = (req.params as { '*': string })['*'] || 'index.html';
    const f = files.get(name);
    if (!f) {
      reply.code(404).headers(headers).type('text/plain; charset=utf-8');
      return files.size === 0 ? 'the console is not built: run npm run build\n' : 'not found\n';
    }
    reply.headers(headers).type(f.type);
    return f.body;
  });
}
