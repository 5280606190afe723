import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { DatasetConfigSchema, type DatasetConfig } from './config.js';
import { parseJsonlProblems, rowsToProblems, type DatasetLoadResult } from './dataset.js';
import { parseRunConfig, RunConfigError, type RunConfig } from './run-config.js';
import { createTokenizer, type MelTokenizer } from './tokenizer.js';

// The only part of mel/ that reads files. Kept out of mel/index.ts so that Temporal workflow code can
// import the index (its sandbox rejects Node built-ins); activities import this module.

/** Parquet bytes -> problems (row numbers are 1-based). */
export async function parseParquetProblems(
  bytes: ArrayBuffer,
  source: string,
  config: DatasetConfig = DatasetConfigSchema.parse({}),
): Promise<DatasetLoadResult> {
  const rows = await parquetReadObjects({ file: bytes });
  return rowsToProblems(
    rows.map((row, index) => ({ line: index + 1, row })),
    source,
    config,
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

/** Reads a .jsonl (or .ndjson) or .parquet file of problems. */
export async function loadProblemsFile(
  path: string,
  config: DatasetConfig = DatasetConfigSchema.parse({}),
): Promise<DataFile> {
  const format = problemsFormat(path);
  const bytes = await readFile(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const parsed =
    format === 'parquet'
      ? await parseParquetProblems(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
          path,
          config,
        )
      : parseJsonlProblems(bytes.toString('utf8'), path, config);
  return { ...parsed, sha256 };
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
