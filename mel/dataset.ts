import { DatasetConfigSchema, type DatasetConfig } from './config.js';
import type { Problem } from './types.js';

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

export class DatasetRowError extends Error {
  constructor(readonly badRow: BadRow) {
    super(describeBadRow(badRow));
    this.name = 'DatasetRowError';
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

type FieldResult = { value: string } | { field: string; message: string };

function firstTextField(row: Record<string, unknown>, fields: readonly string[], what: string): FieldResult {
  for (const field of fields) {
    const value = fieldValue(row, field);
    if (value === undefined || value === null) continue;
    const text = asText(value);
    if (text === undefined) return { field, message: `${what} must be a non-empty string or a number` };
    return { value: text };
  }
  return { field: fields.join('|'), message: `missing ${what} (looked for ${fields.join(', ')})` };
}

function idOf(row: Record<string, unknown>, config: DatasetConfig, fallback: string): FieldResult {
  const value = fieldValue(row, config.idField);
  if (value === undefined || value === null) return { value: fallback };
  const text =
    typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' ? String(value) : '';
  return text.trim() === ''
    ? { field: config.idField, message: 'id must be a non-empty string or a number' }
    : { value: text };
}

function rowToProblem(
  row: unknown,
  config: DatasetConfig,
  fallbackId: string,
): Problem | Omit<BadRow, 'source' | 'line'> {
  if (row instanceof UnparseableLine) return { field: null, message: row.message };
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    return { field: null, message: 'row is not a JSON object' };
  }
  const record = row as Record<string, unknown>;
  const id = idOf(record, config, fallbackId);
  const question = firstTextField(record, config.questionFields, 'question');
  const answer = firstTextField(record, config.answerFields, 'answer');
  for (const result of [id, question, answer]) {
    if ('message' in result) return { field: result.field, message: result.message };
  }
  return { id: valueOf(id), question: valueOf(question), answer: valueOf(answer) };
}

function valueOf(result: FieldResult): string {
  return 'value' in result ? result.value : '';
}

export interface NumberedRow {
  line: number;
  row: unknown;
}

/**
 * Rows -> problems. A row without an id gets `<source>#<line>`; a repeated id is a bad row.
 * With onBadRow 'fail' the first bad row throws a DatasetRowError.
 */
export function rowsToProblems(
  rows: readonly NumberedRow[],
  source: string,
  config: DatasetConfig = DatasetConfigSchema.parse({}),
): DatasetLoadResult {
  const result: DatasetLoadResult = { problems: [], badRows: [] };
  const seen = new Set<string>();
  const report = (bad: BadRow) => {
    if (config.onBadRow === 'fail') throw new DatasetRowError(bad);
    result.badRows.push(bad);
  };
  for (const { line, row } of rows) {
    const parsed = rowToProblem(row, config, `${source}#${line}`);
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
  config: DatasetConfig = DatasetConfigSchema.parse({}),
): DatasetLoadResult {
  const rows = text.split(/\r?\n/).flatMap((content, index): NumberedRow[] => {
    if (content.trim() === '') return [];
    try {
      return [{ line: index + 1, row: JSON.parse(content) as unknown }];
    } catch (error) {
      return [{ line: index + 1, row: new UnparseableLine(`invalid JSON: ${(error as Error).message}`) }];
    }
  });
  return rowsToProblems(rows, source, config);
}
