import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitRevision } from '../../../common/git-revision.js';

describe('gitRevision', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the commit, and a digest that changes with the edit', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mel-git-'));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
    git('init', '-q');
    await writeFile(path.join(dir, 'a.txt'), 'one\n');
    git('add', 'a.txt');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'one');
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: dir,
      encoding: 'utf8',
    }).trim();
    expect(gitRevision(dir)).toEqual({ commit });

    await writeFile(path.join(dir, 'a.txt'), 'two\n');
    const first = gitRevision(dir)!;
    await writeFile(path.join(dir, 'a.txt'), 'three\n');
    const second = gitRevision(dir)!;
    expect(first.commit).toBe(commit);
    expect(first.changesDigest).toMatch(/^[0-9a-f]{8}$/);
    expect(second.changesDigest).not.toBe(first.changesDigest);
  });

  it('is undefined outside a repository', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mel-nogit-'));
    expect(gitRevision(dir)).toBeUndefined();
  });
});
