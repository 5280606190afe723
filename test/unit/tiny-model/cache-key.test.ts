import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../common/env.js';
import { codeKey, keyRoots, relativeImports, type ReadFile } from '../../../tiny-model/cache-key.js';
import { workingTreeKey } from '../../../tiny-model/code-key.js';

const reader =
  (tree: Record<string, string>): ReadFile =>
  (file) =>
    tree[file];

const TREE = {
  'tiny-model/a.ts': "import { b } from '../lib/b.js';\nexport const a = b;\n",
  'tiny-model/python/x.py': 'print(1)\n',
  'lib/b.ts': "export { c } from './c.js';\nimport type { T } from './types.js';\n",
  'lib/c.ts': "import './a.js';\nexport const c = 1;\n",
  'lib/a.ts': "import { c } from './c.js';\n",
  'lib/types.ts': 'export type T = number;\n',
  'lib/unused.ts': 'export const u = 1;\n',
};
const roots = keyRoots(Object.keys(TREE));

describe('cache key', () => {
  it('covers the folder and what it imports transitively (cycles too), not type-only imports or the rest', () => {
    expect(codeKey(roots, reader(TREE)).files).toEqual([
      'lib/a.ts',
      'lib/b.ts',
      'lib/c.ts',
      'tiny-model/a.ts',
      'tiny-model/python/x.py',
    ]);
  });

  it('changes when a covered file changes or an import is added, not when another file changes', () => {
    const { key } = codeKey(roots, reader(TREE));
    expect(codeKey(roots, reader({ ...TREE, 'lib/c.ts': `${TREE['lib/c.ts']}// edited\n` })).key).not.toBe(
      key,
    );
    const withImport = { ...TREE, 'lib/a.ts': `${TREE['lib/a.ts']}import { u } from './unused.js';\n` };
    expect(codeKey(roots, reader(withImport)).files).toContain('lib/unused.ts');
    expect(codeKey(roots, reader(withImport)).key).not.toBe(key);
    expect(codeKey(roots, reader({ ...TREE, 'lib/unused.ts': 'export const u = 2;\n' })).key).toBe(key);
    expect(codeKey(roots, reader({ ...TREE, 'lib/types.ts': 'export type T = string;\n' })).key).toBe(key);
  });

  it('leaves the built artifact out of its roots', () => {
    expect(keyRoots(['tiny-model/artifact/stamp.json', 'tiny-model/x.ts', 'mel/y.ts'])).toEqual([
      'tiny-model/x.ts',
    ]);
  });

  it('refuses an import it cannot resolve', () => {
    const broken = { 'tiny-model/a.ts': "import { z } from './missing.js';\n" };
    expect(() => codeKey(['tiny-model/a.ts'], reader(broken))).toThrow(/missing\.js/);
  });

  it('reads multi-line, side-effect, re-export and dynamic imports; skips packages and type-only ones', () => {
    const source = [
      "import {\n  a,\n  type B,\n} from './a.js';",
      "import './side.js';",
      "export * from '../up.js';",
      "const m = await import('./lazy.js');",
      "import { z } from 'zod';",
      "import type { T } from './t.js';",
      "export type { U } from './u.js';",
      'const text = \'import x from "./not-code.js"\';',
    ].join('\n');
    expect(relativeImports(source).sort()).toEqual(['../up.js', './a.js', './lazy.js', './side.js']);
  });
});

describe('cache key of this repository', () => {
  it('covers the files the hand-written list missed, and the Python scripts', () => {
    const { files } = workingTreeKey(REPO_ROOT);
    expect(files).toEqual(
      expect.arrayContaining([
        'mel/random.ts',
        'mel/datums.ts',
        'tiny-model/warm-start.ts',
        'checkpoints/python/merge_lora.py',
        'tiny-model/python/make_tiny_model.py',
      ]),
    );
    expect(files.filter((file) => file.startsWith('tiny-model/artifact/'))).toEqual([]);
  });
});

describe('cache key on disk', () => {
  let dir = '';
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('changes when a file of a temporary tree gains an import', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cache-key-'));
    await mkdir(path.join(dir, 'tiny-model'));
    await mkdir(path.join(dir, 'lib'));
    await writeFile(path.join(dir, 'tiny-model', 'a.ts'), 'export const a = 1;\n');
    await writeFile(path.join(dir, 'lib', 'b.ts'), 'export const b = 1;\n');
    const before = workingTreeKey(dir);
    await writeFile(
      path.join(dir, 'tiny-model', 'a.ts'),
      "import { b } from '../lib/b.js';\nexport const a = b;\n",
    );
    const after = workingTreeKey(dir);
    expect(before.files).toEqual(['tiny-model/a.ts']);
    expect(after.files).toEqual(['lib/b.ts', 'tiny-model/a.ts']);
    expect(after.key).not.toBe(before.key);
  });
});
