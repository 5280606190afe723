import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { DatasetConfigSchema, DatasetRowError, parseJsonlProblems } from '../../../mel/index.js';
import { loadProblemsFile } from '../../../mel/node.js';

const skip = DatasetConfigSchema.parse({ onBadRow: 'skip' });
const lines = (...rows: string[]) => rows.join('\n');

describe('JSONL problems', () => {
  it('reads id, question and answer, accepting the usual field names and numbers as answers', () => {
    const text = lines(
      '{"id": "a", "question": "1+1?", "answer": "2"}',
      '',
      '{"id": 7, "prompt": "2+2?", "ground_truth": 4}',
    );
    expect(parseJsonlProblems(text, 'f.jsonl')).toEqual({
      problems: [
        { id: 'a', question: '1+1?', answer: '2' },
        { id: '7', question: '2+2?', answer: '4' },
      ],
      badRows: [],
    });
  });

  it('uses configured field names, dotted paths and chat-style prompts (DAPO-Math layout)', () => {
    const row = {
      prompt: [{ role: 'user', content: 'Solve 3x = 9.' }],
      reward_model: { ground_truth: '3' },
      extra_info: { index: 'dapo-1' },
    };
    const config = DatasetConfigSchema.parse({
      idField: 'extra_info.index',
      questionFields: ['prompt'],
      answerFields: ['reward_model.ground_truth'],
    });
    expect(parseJsonlProblems(JSON.stringify(row), 'dapo.jsonl', config).problems).toEqual([
      { id: 'dapo-1', question: 'Solve 3x = 9.', answer: '3' },
    ]);
  });

  it('gives rows without an id a stable id from the file and line', () => {
    const { problems } = parseJsonlProblems(lines('', '{"question": "q", "answer": "1"}'), 'f.jsonl');
    expect(problems[0]?.id).toBe('f.jsonl#2');
  });

  it('skip mode: reports every bad row with file, line and field, and keeps the good ones', () => {
    const text = lines(
      '{"id": "ok", "question": "q", "answer": "1"}',
      '{"id": "no-answer", "question": "q"}',
      'not json',
      '{"id": "empty-q", "question": "  ", "answer": "1"}',
      '[1, 2]',
      '{"id": "ok", "question": "again", "answer": "2"}',
      '{"id": {"x": 1}, "question": "q", "answer": "1"}',
    );
    const result = parseJsonlProblems(text, 'data/train.jsonl', skip);
    expect(result.problems.map((p) => p.id)).toEqual(['ok']);
    expect(result.badRows.map((r) => [r.line, r.field])).toEqual([
      [2, 'answer|ground_truth'],
      [3, null],
      [4, 'question'],
      [5, null],
      [6, 'id'],
      [7, 'id'],
    ]);
    expect(result.badRows[1]?.message).toMatch(/^invalid JSON/);
    expect(result.badRows[4]?.message).toBe('duplicate id "ok"');
    // nothing silently dropped: every non-blank line is a problem or a bad row
    expect(result.problems.length + result.badRows.length).toBe(7);
  });

  it('fail mode (the default): throws on the first bad row, naming file, line and field', () => {
    const text = lines(
      '{"id": "ok", "question": "q", "answer": "1"}',
      '{"id": "b", "question": "q"}',
      'not json',
    );
    expect(() => parseJsonlProblems(text, 'train.jsonl')).toThrow(DatasetRowError);
    expect(() => parseJsonlProblems(text, 'train.jsonl')).toThrow(
      'train.jsonl:2: field "answer|ground_truth": missing answer (looked for answer, ground_truth)',
    );
  });
});

describe('files (mel/node.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mel-dataset-'));

  it('loads a Parquet file, numbering rows from 1 for bad-row reports', async () => {
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: ['p1', 'p2', 'p3'], type: 'STRING' },
        { name: 'problem', data: ['What is 6*7?', 'What is 1/2 + 1/2?', 'Broken'], type: 'STRING' },
        { name: 'answer', data: ['42', '1', null], type: 'STRING' },
      ],
    });
    const path = join(dir, 'train.parquet');
    writeFileSync(path, new Uint8Array(buffer));
    const result = await loadProblemsFile(path, skip);
    expect(result.problems).toEqual([
      { id: 'p1', question: 'What is 6*7?', answer: '42' },
      { id: 'p2', question: 'What is 1/2 + 1/2?', answer: '1' },
    ]);
    expect(result.badRows).toEqual([
      {
        source: path,
        line: 3,
        field: 'answer|ground_truth',
        message: 'missing answer (looked for answer, ground_truth)',
      },
    ]);
  });

  it('loads a JSONL file and refuses unknown formats', async () => {
    const path = join(dir, 'train.jsonl');
    writeFileSync(path, '{"id": "j", "question": "q", "answer": "5"}\n');
    expect((await loadProblemsFile(path)).problems).toEqual([{ id: 'j', question: 'q', answer: '5' }]);
    await expect(loadProblemsFile(join(dir, 'train.csv'))).rejects.toThrow(/unsupported data set format/);
  });
});
