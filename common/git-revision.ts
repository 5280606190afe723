/** Which code this checkout runs: the commit, and whether tracked files differ from it. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from './env.js';

export interface GitRevision {
  /** `git rev-parse --short=12 HEAD`. */
  commit: string;
  /** A digest of `git diff HEAD` when tracked files have changes: two different edits get two digests. */
  changesDigest?: string;
}

/** The checkout's revision, or undefined where there is no git or no repository (an unpacked archive). */
export function gitRevision(cwd: string = REPO_ROOT): GitRevision | undefined {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 256 * 2 ** 20, stdio: 'pipe' });
  try {
    const commit = git('rev-parse', '--short=12', 'HEAD').trim();
    const diff = git('diff', 'HEAD', '--no-ext-diff', '--binary');
    if (!diff) return { commit };
    return { commit, changesDigest: createHash('sha256').update(diff).digest('hex').slice(0, 8) };
  } catch {
    return undefined;
  }
}
