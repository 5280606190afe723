import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../common/env.js';
import { checkWarmModel } from '../../../stack/warm-model.js';
import { workingTreeKey } from '../../../tiny-model/code-key.js';

describe('the stack and the committed warm model', () => {
  let root = '';
  afterEach(() => rm(root, { recursive: true, force: true }));

  async function tree() {
    root = await mkdtemp(path.join(tmpdir(), 'warm-model-'));
    const artifact = path.join(root, 'tiny-model', 'artifact');
    await mkdir(artifact, { recursive: true });
    await writeFile(path.join(root, 'tiny-model', 'build.ts'), 'export const x = 1;\n');
    await writeFile(path.join(artifact, 'model.safetensors'), '');
    const stamp = (cacheKey: string) =>
      writeFile(
        path.join(artifact, 'stamp.json'),
        JSON.stringify({
          cacheKey,
          cacheKeyComputedOn: 'test',
          commit: 'abcdef0',
          builtAt: '2026-12-01T00:00:00Z',
          machine: { arch: 'x86_64', cpu: 'cpu', cores: 2 },
          rounds: [],
        }),
      );
    return { artifact, stamp };
  }

  async function warnings(artifact: string, env = loadEnv({})) {
    const lines: string[] = [];
    await checkWarmModel(env, { warn: (line: string) => lines.push(line) } as never, artifact, root);
    return lines;
  }

  it('says nothing when the stamp names this code, one line when it does not', async () => {
    const { artifact, stamp } = await tree();
    await stamp(workingTreeKey(root).key);
    expect(await warnings(artifact)).toEqual([]);
    await stamp('0000000000000000');
    const lines = await warnings(artifact);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/built from other code.*rebuild --replace/);
  });

  it('does not look when another model is served, and fails clearly when the model is missing', async () => {
    const { artifact } = await tree();
    expect(await warnings(artifact, loadEnv({ MEL_BASE_MODEL: '/models/x' }))).toEqual([]);
    await rm(path.join(artifact, 'model.safetensors'));
    await expect(warnings(artifact)).rejects.toThrow(/committed warm model is missing/);
  });
});
