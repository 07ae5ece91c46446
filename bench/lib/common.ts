// Shared helpers for benches: repo root, machine line, statistics, and the long-lived Python peer.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file whose package.json is facesr's. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'facesr') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** CPU model from /proc/cpuinfo (falls back to os.cpus()). */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function cores(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** "median 12.3 ms (min 11.9, max 14.0, n 15)" from seconds. */
export function fmtMs(st: Stats): string {
  return `median ${(st.median * 1e3).toFixed(1)} ms (min ${(st.min * 1e3).toFixed(1)}, max ${(st.max * 1e3).toFixed(1)}, n ${st.n})`;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Debian's python3 with python3-torch (the pyenv python3 on PATH has no torch). */
export const PEER_PYTHON = process.env.FACESR_PEER_PYTHON ?? '/usr/bin/python3';

/**
 * A long-lived Python peer driven by one command line per request and one JSON line per answer, so
 * that alternating rounds do not pay Python's start-up again. Start it with PythonPeer.start(), which
 * resolves to null (after printing why) when the interpreter or torch is missing.
 */
export class PythonPeer {
  readonly info: Record<string, unknown>;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  private constructor(
    child: ChildProcessWithoutNullStreams,
    lines: AsyncIterator<string>,
    info: Record<string, unknown>,
  ) {
    this.#child = child;
    this.#lines = lines;
    this.info = info;
  }

  /** env entries override this process's environment; an undefined value removes the variable. */
  static async start(
    script: string,
    args: string[],
    env: Record<string, string | undefined>,
  ): Promise<PythonPeer | null> {
    if (!existsSync(PEER_PYTHON)) {
      console.log(`peer: ${PEER_PYTHON} not found; no PyTorch peer`);
      return null;
    }
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const child = spawn(PEER_PYTHON, [script, ...args], {
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.on('error', (err) => console.log(`peer: cannot start ${PEER_PYTHON}: ${err.message}`));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      console.log(`peer: ${PEER_PYTHON} ${script} exited before answering: ${stderr.trim()}`);
      return null;
    }
    const info = JSON.parse(first.value) as Record<string, unknown>;
    if (info.ready !== true) {
      console.log(`peer: no PyTorch under ${PEER_PYTHON} (${String(info.error)})`);
      child.stdin.end();
      return null;
    }
    return new PythonPeer(child, lines, info);
  }

  /** Sends one command line; resolves to the parsed JSON answer. */
  async request<T = Record<string, unknown>>(line: string): Promise<T> {
    this.#child.stdin.write(line + '\n');
    const r = await this.#lines.next();
    if (r.done) throw new Error(`peer exited while answering '${line}'`);
    const out = JSON.parse(r.value) as T & { error?: string };
    if (out.error) throw new Error(`peer: ${out.error}`);
    return out;
  }

  /** Asks the peer to quit and waits for it to exit. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const done = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.write('quit\n');
    this.#child.stdin.end();
    await done;
  }
}
