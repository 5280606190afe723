/**
 * The warm model is committed in the repository (tiny-model/artifact/): the engine serves it, so a fresh machine
 * never trains. stamp.json records what built it; the stack warns when the code has changed since.
 */
import { existsSync } from 'node:fs';
import { cp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export const STAMP_FILE = 'stamp.json';

const RoundMetricsSchema = z.object({
  round: z.string(),
  steps: z.number().int(),
  passRate: z.number(),
  mixedGroupFraction: z.number(),
  parseRate: z.number().nullable(),
  targetsMet: z.boolean(),
  wallTimeS: z.number(),
});

export const StampSchema = z.object({
  /** tiny-model/cache-key.ts's key of the code that built the model. */
  cacheKey: z.string().regex(/^[0-9a-f]{16}$/),
  /** How the key was computed (which commit, which files), in words. */
  cacheKeyComputedOn: z.string(),
  commit: z.string(),
  builtAt: z.string(),
  machine: z.object({ arch: z.string(), cpu: z.string(), cores: z.number().int() }),
  /** The final evaluation of each round, first round first. */
  rounds: z.array(RoundMetricsSchema),
});

export type Stamp = z.infer<typeof StampSchema>;
export type RoundMetrics = z.infer<typeof RoundMetricsSchema>;

export async function readStamp(artifactDir: string): Promise<Stamp | undefined> {
  const file = path.join(artifactDir, STAMP_FILE);
  if (!existsSync(file)) return undefined;
  return StampSchema.parse(JSON.parse(await readFile(file, 'utf8')));
}

/** `uname -m`, the CPU model (/proc/cpuinfo) and the number of cores of this machine. */
export async function thisMachine(): Promise<Stamp['machine']> {
  const cpuinfo = existsSync('/proc/cpuinfo') ? await readFile('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return { arch: os.machine(), cpu: model.trim(), cores: os.availableParallelism() };
}

export const REBUILD_COMMAND = 'npm run tiny-model -- rebuild --replace';

/**
 * Undefined when the committed model was built from this code; else the one warning line to log. The model still
 * works either way: the key only says that the code that builds it has changed since.
 */
export function staleArtifactWarning(stamp: Stamp | undefined, currentKey: string): string | undefined {
  if (!stamp)
    return `the committed warm model has no ${STAMP_FILE}; to rebuild it: ${REBUILD_COMMAND} (~25 min)`;
  if (stamp.cacheKey === currentKey) return undefined;
  return (
    `the committed warm model (tiny-model/artifact/) was built from other code (key ${stamp.cacheKey}, ` +
    `commit ${stamp.commit.slice(0, 7)}) than this checkout's (key ${currentKey}); using it anyway. ` +
    `To rebuild it from this code: ${REBUILD_COMMAND} (~25 min)`
  );
}

/**
 * Makes `artifactDir` a copy of the model folder `modelDir` with `stamp` (and `extra` files such as trace.json),
 * atomically: a half-written artifact is never left behind.
 */
export async function replaceArtifact(
  artifactDir: string,
  modelDir: string,
  stamp: Stamp,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const staging = `${artifactDir}.partial`;
  await rm(staging, { recursive: true, force: true });
  await cp(modelDir, staging, { recursive: true });
  const files = { ...extra, [STAMP_FILE]: StampSchema.parse(stamp) };
  for (const [name, value] of Object.entries(files)) {
    await writeFile(path.join(staging, name), `${JSON.stringify(value, null, 2)}\n`);
  }
  await rm(artifactDir, { recursive: true, force: true });
  await rename(staging, artifactDir);
}
