/**
 * The warm model's cache key, derived from the code: every file under the roots (the tiny-model folder, its Python
 * scripts included) and every repository file they reach through relative imports, transitively. Type-only
 * imports are skipped (erased at run time); packages (bare specifiers) are not followed.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

/** Reads a repository file by its path relative to the repository root ('/'-separated); undefined if absent. */
export type ReadFile = (relPath: string) => string | undefined;

// import x from '…', import { a } from '…', export * from '…', export { a } from '…', import '…', import('…').
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const SOURCE = /\.(?:ts|js|mjs)$/;

/** The relative specifiers of the runtime imports of one TypeScript source. */
export function relativeImports(source: string): string[] {
  const specifiers = [...source.matchAll(STATIC_IMPORT), ...source.matchAll(DYNAMIC_IMPORT)].map(
    (m) => m[1]!,
  );
  return specifiers.filter((specifier) => specifier.startsWith('./') || specifier.startsWith('../'));
}

/** `./x.js` from `dir/a.ts` -> `dir/x.ts` when that exists (TypeScript's NodeNext mapping), else `dir/x.js`. */
export function resolveImport(fromFile: string, specifier: string, read: ReadFile): string | undefined {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), specifier));
  const candidates = target.endsWith('.js') ? [target.replace(/\.js$/, '.ts'), target] : [target];
  return candidates.find((candidate) => !candidate.startsWith('..') && read(candidate) !== undefined);
}

/** The roots and every file they import transitively, sorted. */
export function codeClosure(roots: readonly string[], read: ReadFile): string[] {
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    const source = read(file);
    if (source === undefined) throw new Error(`cache key: ${file} is missing`);
    seen.add(file);
    if (!SOURCE.test(file)) continue;
    for (const specifier of relativeImports(source)) {
      const resolved = resolveImport(file, specifier, read);
      if (!resolved)
        throw new Error(`cache key: ${file} imports ${specifier}, which is not in the repository`);
      pending.push(resolved);
    }
  }
  return [...seen].sort();
}

/** sha256 over each file's path and contents, in path order; the first 16 hex digits. */
export function codeKey(roots: readonly string[], read: ReadFile): { key: string; files: string[] } {
  const files = codeClosure(roots, read);
  const hash = createHash('sha256');
  for (const file of files) {
    const contents = read(file) ?? '';
    hash.update(`${file}\n${Buffer.byteLength(contents)}\n`).update(contents);
  }
  return { key: hash.digest('hex').slice(0, 16), files };
}

/** The folder whose files (all but the built artifact) are the roots of the key. */
export const TINY_MODEL_FOLDER = 'tiny-model';
const NOT_ROOTS = [`${TINY_MODEL_FOLDER}/artifact/`, '__pycache__/'];

/** Of a list of repository files, those that are roots of the key. */
export function keyRoots(files: readonly string[]): string[] {
  return files.filter(
    (file) =>
      file.startsWith(`${TINY_MODEL_FOLDER}/`) && !NOT_ROOTS.some((excluded) => file.includes(excluded)),
  );
}
