import { NON_RETRYABLE } from '../common/error-types.js';
import {
  DatasetConfigSchema,
  VerifierConfigSchema,
  type DatasetConfig,
  type VerifierConfig,
} from './config.js';
import type { Problem } from './types.js';
import { extractBoxed } from './answer-extraction.js';
import { verifyTrustedSolution } from './verifier.js';

// Math problems from JSONL or Parquet rows. Parsing is pure (rows in, problems and bad rows out); the
// file reading lives in mel/node.ts. No row is dropped silently: each one is either a
// Problem or a BadRow naming the file, the line (or row) and the field.

export interface BadRow {
  source: string;
  /** 1-based line of a JSONL file, or 1-based row of a Parquet file. */
  line: number;
  field: string | null;
  message: string;
}

export interface DatasetLoadResult {
  problems: Problem[];
  badRows: BadRow[];
}

/** A data set no retry can fix: a bad row, no usable row, or a file that changed since it was pinned. */
export class DatasetError extends Error {
  override name = NON_RETRYABLE.dataset;
}

export class DatasetRowError extends DatasetError {
  constructor(readonly badRow: BadRow) {
    super(describeBadRow(badRow));
  }
}

export function describeBadRow(row: BadRow): string {
  const field = row.field === null ? '' : ` field "${row.field}":`;
  return `${row.source}:${row.line}:${field} ${row.message}`;
}

/** Reads a dotted path ("reward_model.ground_truth") from a row. */
function fieldValue(row: Record<string, unknown>, path: string): unknown {
  let value: unknown = row;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A chat-style prompt ([{role, content}, ...]) yields its last user message. */
function lastUserContent(value: unknown[]): string | undefined {
  const users = value.filter(
    (m): m is { role: string; content: string } =>
      typeof m === 'object' &&
      m !== null &&
      'role' in m &&
      m.role === 'user' &&
      'content' in m &&
      typeof m.content === 'string',
  );
  return users[users.length - 1]?.content;
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return asText(lastUserContent(value));
  return undefined;
}

/**
 * Where the layouts of other trainers keep a problem's id and answer, tried after the configured (or default)
 * fields, which keep precedence: verl's parquet (`reward_model.ground_truth`, `extra_info.index`), SkyRL's
 * (`reward_spec.ground_truth`) and TRL's (`solution`). Their chat-list `prompt` is a default question field.
 */
export const FIELD_ALIASES = {
  id: ['extra_info.index'],
  answer: ['reward_model.ground_truth', 'reward_spec.ground_truth', 'solution'],
} as const;

/** TRL's `solution` may be a worked solution: its answer is then the last \boxed{…} in it. */
const WORKED_SOLUTION_FIELDS: ReadonlySet<string> = new Set(['solution']);

type FieldResult = { value: string; field: string } | { field: string; message: string };

function firstTextField(row: Record<string, unknown>, fields: readonly string[], what: string): FieldResult {
  for (const field of fields) {
    const value = fieldValue(row, field);
    if (value === undefined || value === null) continue;
    const text = asText(value);
    if (text === undefined) return { field, message: `${what} must be a non-empty string or a number` };
    return { value: WORKED_SOLUTION_FIELDS.has(field) ? (extractBoxed(text) ?? text) : text, field };
  }
  return { field: fields.join('|'), message: missingFieldMessage(row, fields, what) };
}

const SHOWN_ROW_FIELDS = 20;

/** Says which fields were looked for and which the row has, so that an unrecognised layout shows itself. */
function missingFieldMessage(row: Record<string, unknown>, fields: readonly string[], what: string): string {
  const found = rowFieldPaths(row);
  const shown = found.slice(0, SHOWN_ROW_FIELDS).join(', ') + (found.length > SHOWN_ROW_FIELDS ? ', …' : '');
  return (
    `missing ${what} (looked for ${fields.join(', ')}; the row has ${found.length > 0 ? shown : 'no fields'}; ` +
    `a run's configuration can name its field in mel.dataset.${what}Fields)`
  );
}

/** The row's fields as dotted paths, nested objects one level deep (`reward_model.ground_truth`). */
function rowFieldPaths(row: Record<string, unknown>): string[] {
  return Object.entries(row).flatMap(([name, value]): string[] => {
    if (value === undefined || value === null) return [];
    if (typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [name];
    return Object.keys(value).map((key) => `${name}.${key}`);
  });
}

function idOf(row: Record<string, unknown>, config: DatasetConfig, fallback: string): FieldResult {
  const field = [config.idField, ...FIELD_ALIASES.id].find((path) => fieldValue(row, path) != null);
  if (field === undefined) return { value: fallback, field: config.idField };
  const value = fieldValue(row, field);
  const text =
    typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' ? String(value) : '';
  return text.trim() === ''
    ? { field, message: 'id must be a non-empty string or a number' }
    : { value: text, field };
}

/**
 * Null when the verifier can score `answer`, else why not. Written as the rollout prompt asks for it
 * (`\boxed{...}`, mel/prompts.ts), the reference answer must verify as correct against itself: otherwise no
 * sample could ever earn a reward on its problem (an empty answer after clean-up, unbalanced braces, ...).
 * Checked on the calling thread: the solution is written here, and an answer compared with itself is decided by
 * its string forms, not by the symbolic comparison that model output needs a deadline for.
 */
export function unverifiableAnswer(answer: string, verifier: VerifierConfig): string | null {
  const solution = `\\boxed{${answer}}`;
  const verdict = verifyTrustedSolution(solution, answer, verifier);
  if (verdict.correct) return null;
  const read = verdict.extracted === null ? 'no answer' : JSON.stringify(verdict.extracted);
  return `the verifier cannot score answer ${JSON.stringify(answer)}: ${solution} reads as ${read}, not as correct`;
}

function rowToProblem(
  row: unknown,
  config: DatasetConfig,
  verifier: VerifierConfig,
  fallbackId: string,
): Problem | Omit<BadRow, 'source' | 'line'> {
  if (row instanceof UnparseableLine) return { field: null, message: row.message };
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    return { field: null, message: 'row is not a JSON object' };
  }
  const record = row as Record<string, unknown>;
  const id = idOf(record, config, fallbackId);
  const question = firstTextField(record, config.questionFields, 'question');
  const answer = firstTextField(record, withAliases(config.answerFields, FIELD_ALIASES.answer), 'answer');
  for (const result of [id, question, answer]) {
    if ('message' in result) return { field: result.field, message: result.message };
  }
  const unverifiable = unverifiableAnswer(valueOf(answer), verifier);
  if (unverifiable !== null) return { field: answer.field, message: unverifiable };
  return { id: valueOf(id), question: valueOf(question), answer: valueOf(answer) };
}

/** The configured fields, then the aliases they do not already name. */
function withAliases(configured: readonly string[], aliases: readonly string[]): string[] {
  return [...configured, ...aliases.filter((alias) => !configured.includes(alias))];
}

function valueOf(result: FieldResult): string {
  return 'value' in result ? result.value : '';
}

export interface NumberedRow {
  line: number;
  row: unknown;
}

/**
 * Rows -> problems. A row without an id gets `<source>#<line>`; a repeated id, or an answer the verifier cannot
 * score, is a bad row. With onBadRow 'fail' the first bad row throws a DatasetRowError.
 */
export function rowsToProblems(
  rows: readonly NumberedRow[],
  source: string,
  config: DatasetConfig = DatasetConfigSchema.parse({}),
  verifier: VerifierConfig = VerifierConfigSchema.parse({}),
): DatasetLoadResult {
  const result: DatasetLoadResult = { problems: [], badRows: [] };
  const seen = new Set<string>();
  const report = (bad: BadRow) => {
    if (config.onBadRow === 'fail') throw new DatasetRowError(bad);
    result.badRows.push(bad);
  };
  for (const { line, row } of rows) {
    const parsed = rowToProblem(row, config, verifier, `${source}#${line}`);
    if (!('id' in parsed)) report({ source, line, ...parsed });
    else if (seen.has(parsed.id))
      report({ source, line, field: config.idField, message: `duplicate id "${parsed.id}"` });
    else {
      seen.add(parsed.id);
      result.problems.push(parsed);
    }
  }
  return result;
}

/** A JSONL line that is not valid JSON; it becomes a bad row in its place in the file. */
class UnparseableLine {
  constructor(readonly message: string) {}
}

/** JSONL text -> problems. Blank lines are not rows; a line that is not JSON is a bad row. */
export function parseJsonlProblems(
  text: string,
  source: string,
  config?: DatasetConfig,
  verifier?: VerifierConfig,
): DatasetLoadResult {
  const rows = text.split(/\r?\n/).flatMap((content, index): NumberedRow[] => {
    if (content.trim() === '') return [];
    try {
      return [{ line: index + 1, row: JSON.parse(content) as unknown }];
    } catch (error) {
      return [{ line: index + 1, row: new UnparseableLine(`invalid JSON: ${(error as Error).message}`) }];
    }
  });
  return rowsToProblems(rows, source, config, verifier);
}

/** The problems of a data set; a DatasetError when none is usable (no rows, or every row bad). */
export function requireProblems({ problems, badRows }: DatasetLoadResult): Problem[] {
  if (problems.length > 0) return problems;
  const why = badRows[0]
    ? `: all ${badRows.length} rows are bad, the first: ${describeBadRow(badRows[0])}`
    : '';
  throw new DatasetError(`no usable rows${why}`);
}

/** One line per skipped row, the first `shown` of them, then how many more there are. */
export function describeSkippedRows(badRows: readonly BadRow[], shown = 5): string[] {
  const lines = badRows.slice(0, shown).map(describeBadRow);
  if (badRows.length > shown) lines.push(`... and ${badRows.length - shown} more`);
  return lines;
}

/**
 * What a run or an eval records of its data set: the SHA-256 of what was read (the file's bytes, or the built-in
 * set's canonical serialisation), so that every later reading can be checked against it.
 */
export interface DatasetPin {
  source: string;
  sha256: string;
  problems: number;
  skippedRows: number;
}

/** A DatasetError, naming both hashes, when a data set no longer reads as it did when `since` happened. */
export function assertUnchanged(source: string, pinned: string, actual: string, since: string): void {
  if (pinned === actual) return;
  throw new DatasetError(
    `data set ${source} changed since ${since}: its SHA-256 was ${pinned}, it is now ${actual}`,
  );
}
