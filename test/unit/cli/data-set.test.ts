import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../../cli/context.js';
import { describeRunData, readRunData } from '../../../cli/data-set.js';
import { parseRunConfig } from '../../../mel/run-config.js';

const dir = mkdtempSync(join(tmpdir(), 'mel-cli-data-'));
const configFor = (source: string, onBadRow: 'skip' | 'fail') =>
  parseRunConfig({
    runId: 'r',
    steps: 1,
    batchSize: 2,
    groupSize: 2,
    dataset: { source },
    mel: { dataset: { onBadRow } },
  });

function dataFile(name: string, ...rows: object[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n'));
  return path;
}

describe('the data set as mel train reads it before starting the run', () => {
  it('reports its hash, its problems and each row it skipped, and why', async () => {
    const path = dataFile(
      'skip.jsonl',
      { id: 'a', question: 'q', answer: '1' },
      { id: 'b', question: 'q', answer: '$' },
      { id: 'c', question: 'q' },
    );
    const dataset = await readRunData(configFor(path, 'skip'));
    expect(describeRunData(dataset).split('\n')).toEqual([
      `data:   ${path} (sha256 ${dataset.sha256.slice(0, 12)}), 1 problems; 2 bad rows skipped:`,
      `  ${path}:2: field "answer": the verifier cannot score answer "$": \\boxed{$} reads as "$", not as correct`,
      expect.stringMatching(
        new RegExp(`^  ${path}:3: field "answer\\|ground_truth\\|.*": missing answer \\(looked for`),
      ),
    ]);
  });

  it('refuses a missing file, a bad row and a data set without a usable row, naming the file', async () => {
    const missing = join(dir, 'missing.jsonl');
    await expect(readRunData(configFor(missing, 'fail'))).rejects.toThrow(
      new RegExp(`^cannot use data set ${missing}: ENOENT`),
    );
    const bad = dataFile('bad.jsonl', { id: 'a', question: 'q', answer: '1' }, { id: 'b', question: 'q' });
    await expect(readRunData(configFor(bad, 'fail'))).rejects.toThrow(
      `cannot use data set ${bad}: ${bad}:2:`,
    );
    const allBad = dataFile('all-bad.jsonl', { id: 'b', question: 'q', answer: '...' });
    const refusal = readRunData(configFor(allBad, 'skip'));
    await expect(refusal).rejects.toThrow(CliError);
    await expect(refusal).rejects.toThrow(
      `cannot use data set ${allBad}: no usable rows: all 1 rows are bad, the first: ${allBad}:1:`,
    );
  });
});
