/** The cache key of the tiny-model code in a working tree (cache-key.ts does the pure work). */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { codeKey, keyRoots, TINY_MODEL_FOLDER } from './cache-key.js';

function listFiles(root: string, relDir: string): string[] {
  return readdirSync(path.join(root, relDir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${relDir}/${entry.name}`;
    return entry.isDirectory() ? listFiles(root, rel) : entry.isFile() ? [rel] : [];
  });
}

/** Scripts outside the folder that a build runs: found by path, not through an import the closure follows. */
const SCRIPT_ROOTS = ['checkpoints/python/merge_lora.py'];

/** The key of the code under `repoRoot` that builds the warm model, and the files it covers. */
export function workingTreeKey(repoRoot: string): { key: string; files: string[] } {
  const read = (rel: string) => {
    const file = path.join(repoRoot, rel);
    return existsSync(file) && statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
  };
  const scripts = SCRIPT_ROOTS.filter((file) => read(file) !== undefined);
  return codeKey([...keyRoots(listFiles(repoRoot, TINY_MODEL_FOLDER)), ...scripts], read);
}
