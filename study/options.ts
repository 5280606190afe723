/** `npm run study -- [options]`: parsed and checked. Pure. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const USAGE = `npm run study -- [options]
  --seeds A,B,C     run seeds; one GRPO and one MEL run each (default 1,2,3)
  --steps N         training steps of every run (default 8)
  --config FILE     the run configuration every run starts from, with its mode, seed, steps and runId replaced
                    (default configs/demo.json)
  --prefix ID       run ids are <prefix>-<grpo|mel>-s<seed> (default study); runs and evals
                    already there are reused, so the same command resumes or re-reads a study
  --held-out N      held-out problems drawn from the built-in generator (default 100, minus any in training)
  --k N             sampled answers per eval problem (default 4)
  --out DIR         where the summary, the JSON, the eval files and the comparison charts go (default docs/study)`;

export class StudyOptionsError extends Error {
  override name = 'StudyOptionsError';
}

const count = z.coerce.number().int().positive();

const StudyOptionsSchema = z.object({
  seeds: z
    .string()
    .default('1,2,3')
    .transform((text) => text.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part))))
    .pipe(z.array(z.number().int('a seed is a whole number').nonnegative()).min(1)),
  steps: count.default(8),
  config: z.string().default('configs/demo.json'),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"')
    .default('study'),
  'held-out': count.default(100),
  k: count.default(4),
  out: z.string().default('docs/study'),
});

export interface StudySettings {
  seeds: number[];
  steps: number;
  configFile: string;
  prefix: string;
  heldOut: number;
  k: number;
  outDir: string;
}

export function parseStudyArgs(argv: readonly string[], cwd: string): StudySettings | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        seeds: { type: 'string' },
        steps: { type: 'string' },
        config: { type: 'string' },
        prefix: { type: 'string' },
        'held-out': { type: 'string' },
        k: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new StudyOptionsError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) return 'help';
  const parsed = StudyOptionsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new StudyOptionsError(`--${String(issue.path[0])}: ${issue.message}\n${USAGE}`);
  }
  const options = parsed.data;
  return {
    seeds: options.seeds,
    steps: options.steps,
    configFile: path.resolve(cwd, options.config),
    prefix: options.prefix,
    heldOut: options['held-out'],
    k: options.k,
    outDir: path.resolve(cwd, options.out),
  };
}
