/**
 * The evaluation sets the project ships (data/eval/, each beside its provenance and licence), by name: `mel eval
 * <run> --data math500` reads the shipped MATH-500, `--data gsm8k` the shipped GSM8K test split. A file path still
 * works as before.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatasetConfig } from '../mel/config.js';
import { CliError } from './context.js';

export interface EvalSet {
  name: string;
  /** What it is, in a few words (`mel eval --help`, the error for an unknown name). */
  title: string;
  /** The shipped file, absolute. */
  path: string;
  /** Its provenance and licence, absolute. */
  provenance: string;
  /**
   * The fields of the file's rows. `mel eval` reads every data file with the default field names (its workflow
   * carries the file's path and hash, nothing else), so a shipped file must use names the default reading finds
   * first: the unit test reads each set both ways and requires the same problems.
   */
  fields: Pick<DatasetConfig, 'idField' | 'questionFields' | 'answerFields'>;
}

const shipped = (file: string) => fileURLToPath(new URL(`../data/eval/${file}`, import.meta.url));

export const EVAL_SETS: readonly EvalSet[] = [
  {
    name: 'math500',
    title: 'MATH-500, 500 competition problems with LaTeX answers',
    path: shipped('math500.jsonl'),
    provenance: shipped('math500.PROVENANCE.md'),
    fields: { idField: 'id', questionFields: ['problem'], answerFields: ['answer'] },
  },
  {
    name: 'gsm8k',
    title: 'GSM8K test split, 1319 grade-school word problems with integer answers',
    path: shipped('gsm8k-test.jsonl'),
    provenance: shipped('gsm8k-test.PROVENANCE.md'),
    // `answer` is the number after '####' of the worked `solution` (see its provenance).
    fields: { idField: 'id', questionFields: ['question'], answerFields: ['answer'] },
  },
];

/** A name, not a file: no dot (no extension) and no path separator. Such a value was never a readable data file. */
const SET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** What `--data` names: a shipped set (with its entry) or a file, as an absolute path either way. */
export interface EvalData {
  path: string;
  set: EvalSet | null;
}

/**
 * `--data <value>`: a shipped set's name (any case), else a file path. A bare word that names no shipped set is a
 * CliError listing the ones there are.
 */
export function resolveEvalData(value: string, cwd: string = process.cwd()): EvalData {
  if (!SET_NAME.test(value)) return { path: path.resolve(cwd, value), set: null };
  const set = EVAL_SETS.find((candidate) => candidate.name === value.toLowerCase());
  if (set) return { path: set.path, set };
  const known = EVAL_SETS.map((candidate) => `${candidate.name} (${candidate.title})`).join('; ');
  throw new CliError(
    `--data ${value}: no shipped eval set of that name, and not a data file (.jsonl, .ndjson or .parquet). ` +
      `Shipped sets: ${known}`,
  );
}
