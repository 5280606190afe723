import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { builtinProblems } from './builtin-dataset.js';
import type { DatasetConfig, VerifierConfig } from './config.js';
import {
  parseJsonlProblems,
  requireProblems,
  rowsToProblems,
  type DatasetLoadResult,
  type DatasetPin,
} from './dataset.js';
import { parseRunConfig, RunConfigError, type RunConfig } from './run-config.js';
import { createTokenizer, type MelTokenizer } from './tokenizer.js';

// The only part of mel/ that reads files. Kept out of mel/index.ts so that Temporal workflow code can
// import the index (its sandbox rejects Node built-ins); activities import this module.

/** Parquet bytes -> problems (row numbers are 1-based). */
export async function parseParquetProblems(
  bytes: ArrayBuffer,
  source: string,
  config?: DatasetConfig,
  verifier?: VerifierConfig,
): Promise<DatasetLoadResult> {
  const rows = await parquetReadObjects({ file: bytes });
  return rowsToProblems(
    rows.map((row, index) => ({ line: index + 1, row })),
    source,
    config,
    verifier,
  );
}

function problemsFormat(path: string): 'parquet' | 'jsonl' {
  if (/\.parquet$/i.test(path)) return 'parquet';
  if (/\.(?:jsonl|ndjson)$/i.test(path)) return 'jsonl';
  throw new Error(`${path}: unsupported data set format (expected .jsonl, .ndjson or .parquet)`);
}

/** A data file's problems (and bad rows), with the SHA-256 of the bytes they were read from. */
export interface DataFile extends DatasetLoadResult {
  sha256: string;
}

/** The SHA-256 that pins a data set (hex): of a file's bytes, or of the built-in set's serialisation. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a .jsonl (or .ndjson) or .parquet file of problems. */
export async function loadProblemsFile(
  path: string,
  config?: DatasetConfig,
  verifier?: VerifierConfig,
): Promise<DataFile> {
  const format = problemsFormat(path);
  const bytes = await readFile(path);
  const parsed =
    format === 'parquet'
      ? await parseParquetProblems(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
          path,
          config,
          verifier,
        )
      : parseJsonlProblems(bytes.toString('utf8'), path, config, verifier);
  return { ...parsed, sha256: sha256Hex(bytes) };
}

/** A run's data set as its configuration reads it, with the SHA-256 that pins it. */
export interface RunDataset extends DataFile {
  source: string;
}

/**
 * The built-in generated set or a file, read with the run's field names, bad-row rule and verifier. Throws when
 * no row is usable (a DatasetError), on a bad row with `onBadRow: 'fail'`, or when the file cannot be read.
 */
export async function loadRunDataset(config: RunConfig): Promise<RunDataset> {
  const { source, builtinCount, builtinSeed } = config.dataset;
  const dataset: RunDataset =
    source === 'builtin'
      ? builtinDataset(builtinSeed, builtinCount)
      : { source, ...(await loadProblemsFile(source, config.mel.dataset, config.mel.verifier)) };
  requireProblems(dataset);
  return dataset;
}

/** Pinned by its canonical serialisation: a changed generator changes the hash, as a changed file would. */
function builtinDataset(seed: number, count: number): RunDataset {
  const problems = builtinProblems({ seed, count });
  return { source: 'builtin', problems, badRows: [], sha256: sha256Hex(JSON.stringify(problems)) };
}

export function datasetPin({ source, sha256, problems, badRows }: RunDataset): DatasetPin {
  return { source, sha256, problems: problems.length, skippedRows: badRows.length };
}

function readJsonObject(path: string): object {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${path}: expected a JSON object`);
  return parsed;
}

/** Reads tokenizer.json and tokenizer_config.json from a model directory. */
export function loadTokenizer(modelDir: string): MelTokenizer {
  return createTokenizer(
    readJsonObject(join(modelDir, 'tokenizer.json')),
    readJsonObject(join(modelDir, 'tokenizer_config.json')),
  );
}

/** Reads and validates a run configuration file; every failure is a RunConfigError naming the file. */
export async function loadRunConfig(file: string): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RunConfigError(`cannot read run configuration ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RunConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseRunConfig(json, file);
}
