// The web page's files (src/server/public, read from the package, not copied by the build) and the
// package version, read once when the server starts.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FacesrError } from '../core/errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The package root: the folder with package.json above this file (dist/src/server or src/server). */
function packageRoot(): string {
  for (const up of ['../../..', '../..']) {
    const d = path.resolve(here, up);
    if (existsSync(path.join(d, 'package.json')) && existsSync(path.join(d, 'src/server/public'))) return d;
  }
  throw new FacesrError(`facesr serve: cannot find the web page's files (src/server/public) above ${here}`);
}

export function packageVersion(): string {
  try {
    const pj = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pj.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};

/** Route -> file body and content type. */
export async function readPublicFiles(): Promise<Record<string, { body: Buffer; type: string }>> {
  const dir = path.join(packageRoot(), 'src/server/public');
  const out: Record<string, { body: Buffer; type: string }> = {};
  for (const [route, [file, type]] of Object.entries(FILES))
    out[route] = { body: await readFile(path.join(dir, file)), type };
  return out;
}
