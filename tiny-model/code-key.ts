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

/** The key of the code under `repoRoot` that builds the warm model, and the files it covers. */
export function workingTreeKey(repoRoot: string): { key: string; files: string[] } {
  const read = (rel: string) => {
    const file = path.join(repoRoot, rel);
    return existsSync(file) && statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
  };
  return codeKey(keyRoots(listFiles(repoRoot, TINY_MODEL_FOLDER)), read);
}
