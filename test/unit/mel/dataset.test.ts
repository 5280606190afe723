import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { NON_RETRYABLE } from '../../../common/error-types.js';
import {
  assertUnchanged,
  builtinProblems,
  DatasetConfigSchema,
  DatasetError,
  DatasetRowError,
  describeSkippedRows,
  parseJsonlProblems,
  requireProblems,
  unverifiableAnswer,
  VerifierConfigSchema,
  type BadRow,
} from '../../../mel/index.js';
import { datasetPin, loadProblemsFile, loadRunDataset } from '../../../mel/node.js';
import { parseRunConfig } from '../../../mel/run-config.js';

const skip = DatasetConfigSchema.parse({ onBadRow: 'skip' });
/** The default answer fields, then the aliases of verl, SkyRL and TRL. */
const ANSWER_FIELDS = [
  'answer',
  'ground_truth',
  'reward_model.ground_truth',
  'reward_spec.ground_truth',
  'solution',
];
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
      [2, ANSWER_FIELDS.join('|')],
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
      `train.jsonl:2: field "${ANSWER_FIELDS.join('|')}": missing answer (looked for ${ANSWER_FIELDS.join(', ')}; ` +
        "the row has id, question; a run's configuration can name its field in mel.dataset.answerFields)",
    );
  });
});

describe('the layouts of other trainers, by default (test/fixtures/data-formats/make.py writes the files)', () => {
  const fixture = (name: string) =>
    fileURLToPath(new URL(`../../fixtures/data-formats/${name}`, import.meta.url));
  const GSM8K = [
    ['Tom has 3 apples and buys 4 more. How many apples does he have?', '7'],
    ['A box holds 6 eggs. How many eggs are in 5 boxes?', '30'],
    ['Sara reads 12 pages a day. How many pages does she read in 3 days?', '36'],
  ];
  const VERL_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".';

  it.each(['verl-gsm8k.parquet', 'skyrl-gsm8k.parquet'])(
    '%s: the chat prompt as it stands, the ground truth, extra_info.index as the id',
    async (name) => {
      const { problems, badRows } = await loadProblemsFile(fixture(name));
      expect(badRows).toEqual([]);
      expect(problems).toEqual(
        GSM8K.map(([question, answer], index) => ({
          id: String(index),
          question: `${question} ${VERL_INSTRUCTION}`,
          answer,
        })),
      );
    },
  );

  it("trl-math.parquet: the last user message, and the answer of TRL's solution (boxed, or alone)", async () => {
    const path = fixture('trl-math.parquet');
    expect((await loadProblemsFile(path)).problems).toEqual([
      { id: `${path}#1`, question: 'What is the sum of the roots of x^2 - 5x + 6 = 0?', answer: '5' },
      { id: `${path}#2`, question: 'Simplify 2/4.', answer: '\\frac{1}{2}' },
    ]);
  });

  it('the configured fields keep precedence over the aliases', () => {
    const aliased = { question: 'q', solution: '\\boxed{5}', extra_info: { index: 9 } };
    const config = DatasetConfigSchema.parse({ idField: 'uid', answerFields: ['final'] });
    const read = (row: object) => parseJsonlProblems(JSON.stringify(row), 'f.jsonl', config).problems;
    expect(read({ ...aliased, uid: 'u1', final: '4' })).toEqual([{ id: 'u1', question: 'q', answer: '4' }]);
    expect(read(aliased)).toEqual([{ id: '9', question: 'q', answer: '5' }]);
  });

  it('an unrecognised layout fails naming the fields looked for and the fields its rows have', () => {
    const row = { input: 'What is 2+2?', target: { value: '4' }, tags: ['easy'] };
    expect(() => parseJsonlProblems(JSON.stringify(row), 'odd.jsonl')).toThrow(
      'odd.jsonl:1: field "question|prompt|problem": missing question (looked for question, prompt, problem; ' +
        "the row has input, target.value, tags; a run's configuration can name its field in " +
        'mel.dataset.questionFields)',
    );
  });
});

describe('answers the verifier cannot score', () => {
  const verifier = VerifierConfigSchema.parse({});

  it('are bad rows naming the answer field: nothing could ever earn a reward on them', () => {
    const text = lines(
      '{"id": "ok", "question": "q", "answer": "x^2+1"}',
      '{"id": "dollar", "question": "q", "answer": "$"}',
      '{"id": "brace", "question": "q", "ground_truth": "\\\\frac{1}{"}',
      '{"id": "dots", "question": "q", "answer": "..."}',
    );
    const result = parseJsonlProblems(text, 'f.jsonl', skip);
    expect(result.problems.map((p) => p.id)).toEqual(['ok']);
    expect(result.badRows.map((r) => [r.line, r.field])).toEqual([
      [2, 'answer'],
      [3, 'ground_truth'],
      [4, 'answer'],
    ]);
    expect(result.badRows[0]?.message).toBe(
      'the verifier cannot score answer "$": \\boxed{$} reads as "$", not as correct',
    );
    expect(() => parseJsonlProblems(text, 'f.jsonl')).toThrow('f.jsonl:2: field "answer": the verifier');
  });

  it('leaves every answer the verifier can score, text included, and every built-in answer', () => {
    for (const answer of ['42', '\\frac{1}{2}', '50\\%', '(1,2]', 'Paris', '3 cm']) {
      expect(unverifiableAnswer(answer, verifier), answer).toBeNull();
    }
    const unscorable = builtinProblems({ count: 300 }).filter((p) => unverifiableAnswer(p.answer, verifier));
    expect(unscorable).toEqual([]);
  });
});

describe('a data set as a run reads it', () => {
  const bad = (line: number): BadRow => ({ source: 'f.jsonl', line, field: 'answer', message: 'missing' });

  it('no usable row is a non-retryable DatasetError, naming the first bad row when there were rows', () => {
    const none = () => requireProblems({ problems: [], badRows: [] });
    expect(none).toThrow(DatasetError);
    expect(none).toThrow('no usable rows');
    expect(() => requireProblems({ problems: [], badRows: [bad(1), bad(2)] })).toThrow(
      'no usable rows: all 2 rows are bad, the first: f.jsonl:1: field "answer": missing',
    );
    expect(new DatasetError('x').name).toBe(NON_RETRYABLE.dataset);
    expect(new DatasetRowError(bad(1))).toBeInstanceOf(DatasetError);
  });

  it('describes the skipped rows, the first few of them', () => {
    expect(describeSkippedRows([bad(1), bad(2), bad(3)], 2)).toEqual([
      'f.jsonl:1: field "answer": missing',
      'f.jsonl:2: field "answer": missing',
      '... and 1 more',
    ]);
  });

  it('a changed hash is a DatasetError naming both hashes', () => {
    expect(() => assertUnchanged('f.jsonl', 'aaa', 'aaa', 'the run started')).not.toThrow();
    expect(() => assertUnchanged('f.jsonl', 'aaa', 'bbb', 'run r was started')).toThrow(
      new DatasetError(
        'data set f.jsonl changed since run r was started: its SHA-256 was aaa, it is now bbb',
      ),
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
        field: ANSWER_FIELDS.join('|'),
        message: expect.stringMatching(/^missing answer \(looked for answer, .*; the row has id, problem;/),
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

describe('loadRunDataset (mel/node.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mel-run-dataset-'));
  const configFor = (source: string, onBadRow: 'skip' | 'fail' = 'fail', builtinSeed = 0) =>
    parseRunConfig({
      runId: 'r',
      steps: 1,
      batchSize: 2,
      groupSize: 2,
      dataset: { source, builtinCount: 20, builtinSeed },
      mel: { dataset: { onBadRow } },
    });

  it('pins a file by the SHA-256 of its bytes, and reports the rows it skipped', async () => {
    const path = join(dir, 'train.jsonl');
    const text = lines(
      '{"id": "a", "question": "q", "answer": "1"}',
      '{"id": "b", "question": "q", "answer": "$"}',
    );
    writeFileSync(path, text);
    const dataset = await loadRunDataset(configFor(path, 'skip'));
    expect(dataset.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(datasetPin(dataset)).toEqual({
      source: path,
      sha256: dataset.sha256,
      problems: 1,
      skippedRows: 1,
    });
    expect(dataset.badRows.map((r) => r.line)).toEqual([2]);
  });

  it('pins the built-in set by its serialisation: the same for the same seed, another for another', async () => {
    const first = await loadRunDataset(configFor('builtin'));
    expect((await loadRunDataset(configFor('builtin'))).sha256).toBe(first.sha256);
    expect((await loadRunDataset(configFor('builtin', 'fail', 1))).sha256).not.toBe(first.sha256);
    expect(first.problems).toHaveLength(20);
  });

  it('refuses a file without a usable row, and a missing file', async () => {
    const path = join(dir, 'all-bad.jsonl');
    writeFileSync(path, '{"id": "b", "question": "q", "answer": "$"}\n\n');
    await expect(loadRunDataset(configFor(path, 'skip'))).rejects.toThrow(DatasetError);
    writeFileSync(join(dir, 'empty.jsonl'), '');
    await expect(loadRunDataset(configFor(join(dir, 'empty.jsonl')))).rejects.toThrow('no usable rows');
    await expect(loadRunDataset(configFor(join(dir, 'missing.jsonl')))).rejects.toThrow(/ENOENT/);
  });
});
