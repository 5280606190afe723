import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A missing tool or an occupied port: says what is missing and how to fix it. Never retried. */
export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
  constructor(what: string, fix: string) {
    super(`${what}\n  fix: ${fix}`);
  }
}

export async function versionOf(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 30_000 });
    return `${stdout}${stderr}`.trim();
  } catch {
    return undefined;
  }
}

export function parseGoVersion(output: string): [number, number] | undefined {
  const match = /go(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export async function requireGo(neededFor: string): Promise<string> {
  const output = await versionOf('go', ['version']);
  const version = output ? parseGoVersion(output) : undefined;
  if (!version) {
    throw new PrerequisiteError(
      `Go is not installed, and it is needed to build ${neededFor}.`,
      'install Go 1.24 or newer (https://go.dev/doc/install) and make sure `go` is on PATH',
    );
  }
  if (version[0] < 1 || (version[0] === 1 && version[1] < 24)) {
    throw new PrerequisiteError(
      `Go ${version.join('.')} is too old to build ${neededFor}.`,
      'install Go 1.24 or newer (https://go.dev/doc/install)',
    );
  }
  return 'go';
}

export function parsePythonVersion(output: string): [number, number] | undefined {
  const match = /(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function pythonCandidates(): string[] {
  const pyenvRoot = path.join(os.homedir(), '.pyenv', 'versions');
  // 3.12 first: engine/python/constraints.txt was resolved on it.
  const pyenvPythons = existsSync(pyenvRoot)
    ? readdirSync(pyenvRoot)
        .map((name) => ({ name, version: parsePythonVersion(name) }))
        .filter(({ version }) => version !== undefined && version[0] === 3 && version[1] >= 12)
        .sort((a, b) => a.version![1] - b.version![1])
        .map(({ name }) => path.join(pyenvRoot, name, 'bin', 'python3'))
    : [];
  const explicit = process.env.MEL_PYTHON ? [process.env.MEL_PYTHON] : [];
  return [...explicit, 'python3.12', ...pyenvPythons, 'python3.13', 'python3'];
}

/** SkyRL 0.3 needs Python 3.12+ (its pydantic models use typing.TypedDict, which pydantic rejects on 3.11). */
export async function requirePython(): Promise<string> {
  for (const candidate of pythonCandidates()) {
    const output = await versionOf(candidate, [
      '-c',
      'import sys, venv; print("%d.%d" % sys.version_info[:2])',
    ]);
    const version = output ? parsePythonVersion(output) : undefined;
    if (version && version[0] === 3 && version[1] >= 12) return candidate;
  }
  throw new PrerequisiteError(
    'No Python 3.12 or newer with the venv module was found (the policy engine, SkyRL, needs it).',
    'install Python 3.12+ (e.g. `pyenv install 3.12`, or your OS package python3.12 + python3.12-venv), ' +
      'or set MEL_PYTHON to its path',
  );
}

export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function requireFreePort(port: number, service: string, envVar: string): Promise<void> {
  if (!(await portIsFree(port))) {
    throw new PrerequisiteError(
      `Port ${port} on 127.0.0.1, wanted by ${service}, is already in use by another process.`,
      `stop that process, or choose another port with ${envVar}=<port>`,
    );
  }
}
