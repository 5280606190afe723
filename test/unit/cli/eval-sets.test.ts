import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../cli/context.js';
import { EVAL_SETS, resolveEvalData, type EvalSet } from '../../../cli/eval-sets.js';
import { DatasetConfigSchema, verificationRecord } from '../../../mel/index.js';
import { loadProblemsFile, sha256Hex } from '../../../mel/node.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';

// The shipped eval sets (data/eval/): `--data math500|gsm8k` finds them, every row loads as `mel eval` reads it,
// and the verifier agrees with their ground truths, scored as the eval activity scores an answer
// (`verificationRecord` with the symbolic comparisons in a worker-thread pool).

const pool = new VerifierPool({ threads: 2 });
afterAll(() => pool.close());

function set(name: string): EvalSet {
  const found = EVAL_SETS.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no eval set ${name}`);
  return found;
}

/** The file's rows as JSON, one per non-blank line. */
function rowsOf(evalSet: EvalSet): Record<string, unknown>[] {
  return readFileSync(evalSet.path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const answersOf = (evalSet: EvalSet) => rowsOf(evalSet).map((row) => String(row.answer));
const MATH500 = answersOf(set('math500'));
const GSM8K = answersOf(set('gsm8k'));

/** How the eval activity scores one answer: the verdict, why, and what it read. */
async function score(solution: string, truth: string) {
  const { correct, reason, extractedAnswer } = await verificationRecord(solution, truth, pool.compare);
  return { solution, truth, correct, reason, extractedAnswer };
}

/** The cases whose verdict is not `expected`, as [solution, truth, reason] (an empty list when all agree). */
async function disagreements(cases: readonly (readonly [string, string])[], expected: boolean) {
  const verdicts = await Promise.all(cases.map(([solution, truth]) => score(solution, truth)));
  return verdicts.filter((v) => v.correct !== expected).map((v) => [v.solution, v.truth, v.reason]);
}

const boxed = (answer: string) => `\\boxed{${answer}}`;

describe('mel eval --data: shipped sets by name, files by path', () => {
  it('resolves each shipped set by its name, in any case, to its file', () => {
    expect(EVAL_SETS.map((s) => s.name)).toEqual(['math500', 'gsm8k']);
    for (const evalSet of EVAL_SETS) {
      expect(resolveEvalData(evalSet.name)).toEqual({ path: evalSet.path, set: evalSet });
      expect(existsSync(evalSet.path)).toBe(true);
    }
    expect(resolveEvalData('MATH500').path).toMatch(/\/data\/eval\/math500\.jsonl$/);
    expect(resolveEvalData('GSM8K').path).toMatch(/\/data\/eval\/gsm8k-test\.jsonl$/);
  });

  it('reads anything with a dot or a slash as a file path, relative to the working directory', () => {
    expect(resolveEvalData('held-out.jsonl', '/work/x')).toEqual({
      path: '/work/x/held-out.jsonl',
      set: null,
    });
    expect(resolveEvalData('./math500', '/work/x')).toEqual({ path: '/work/x/math500', set: null });
    expect(resolveEvalData('/data/gsm8k.parquet', '/work/x')).toEqual({
      path: '/data/gsm8k.parquet',
      set: null,
    });
  });

  it('refuses a bare word that names no shipped set, listing the ones there are', () => {
    expect(() => resolveEvalData('math5000')).toThrow(CliError);
    expect(() => resolveEvalData('math5000')).toThrow(
      /--data math5000: no shipped eval set of that name, and not a data file.*Shipped sets: math500 \(MATH-500.*\); gsm8k \(GSM8K/,
    );
  });

  it('ships each set beside its provenance: source, MIT licence, and the SHA-256 of the file as shipped', () => {
    for (const evalSet of EVAL_SETS) {
      const provenance = readFileSync(evalSet.provenance, 'utf8');
      expect(provenance).toContain(sha256Hex(readFileSync(evalSet.path)));
      expect(provenance).toMatch(/\*\*Source:\*\* <https:\/\/github\.com\//);
      expect(provenance).toContain('MIT License');
      expect(provenance).toContain('Permission is hereby granted, free of charge');
    }
  });
});

describe.each(EVAL_SETS.map((evalSet) => [evalSet.name, evalSet] as const))(
  '%s as mel eval reads it',
  (_, evalSet) => {
    const rows = rowsOf(evalSet);

    it('has as many problems as its file has rows, and says so in its title', async () => {
      // mel eval reads with the default fields and fails on the first bad row (onBadRow: 'fail').
      const file = await loadProblemsFile(evalSet.path);
      expect(file.badRows).toEqual([]);
      expect(file.problems).toHaveLength(rows.length);
      expect(evalSet.title).toContain(`${rows.length} `);
    });

    it("takes each problem's id, question and answer from the fields the registry names", async () => {
      const [idField, questionField, answerField] = [
        evalSet.fields.idField,
        evalSet.fields.questionFields[0]!,
        evalSet.fields.answerFields[0]!,
      ];
      const named = await loadProblemsFile(evalSet.path, DatasetConfigSchema.parse(evalSet.fields));
      const byDefault = await loadProblemsFile(evalSet.path);
      expect(byDefault.problems).toEqual(named.problems);
      expect(named.problems).toEqual(
        rows.map((row) => ({
          id: String(row[idField]),
          question: String(row[questionField]).trim(),
          answer: String(row[answerField]).trim(),
        })),
      );
    });
  },
);

describe('gsm8k: the answer is the number after #### of the worked solution', () => {
  /** The number on the solution's last line, "#### 1,234" -> "1234". */
  function finalAnswer(solution: string): string | null {
    const lastLine = solution.slice(solution.lastIndexOf('\n') + 1);
    const match = /^####\s*(-?[\d,]+(?:\.\d+)?)\s*$/.exec(lastLine);
    return match ? match[1]!.replace(/,/g, '') : null;
  }

  it('holds for every row', () => {
    const rows = rowsOf(set('gsm8k'));
    const mismatches = rows.filter((row) => finalAnswer(String(row.solution)) !== row.answer);
    expect(mismatches.map((row) => row.id)).toEqual([]);
    expect(rows.every((row) => /^-?\d+$/.test(String(row.answer)))).toBe(true);
  });
});

describe('the verifier on every ground truth', () => {
  it.each([
    ['math500', MATH500],
    ['gsm8k', GSM8K],
  ])(
    '%s: \\boxed{answer} verifies against the answer itself, bare and in prose with $...$',
    async (_, answers) => {
      const verdicts = await Promise.all(
        answers.flatMap((answer) => [
          score(boxed(answer), answer),
          score(`So the final answer is $${boxed(answer)}$.`, answer),
        ]),
      );
      const rejected = verdicts.filter(
        (v) => !v.correct || v.reason !== 'equivalent' || v.extractedAnswer !== v.truth,
      );
      // No ground truth of either set is rejected against itself; a new one would be listed here with its verdict.
      expect(rejected).toEqual([]);
    },
  );
});

// Forms that mean the same number, for every answer they apply to, and forms that do not.
function withCommas(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function integerForms(answer: string): { same: string[]; different: string[] } | null {
  const match = /^(-?)(\d+)$/.exec(answer);
  if (!match) return null;
  const [sign, digits] = [match[1]!, match[2]!];
  const value = BigInt(answer);
  return {
    same: [
      `${answer}.0`,
      `${answer}.00`,
      `${sign}${withCommas(digits)}`,
      `\\frac{${2n * value}}{2}`,
      `$${answer}$`,
    ],
    different: [String(value + 1n), String(value * 10n + 1n), `${answer}.5`],
  };
}

function fractionForms(answer: string): { same: string[]; different: string[] } | null {
  const match = /^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$/.exec(answer);
  if (!match) return null;
  const [sign, p, q] = [match[1]!, Number(match[2]), Number(match[3])];
  const same = [
    `${sign}${p}/${q}`,
    `${sign}\\dfrac{${p}}{${q}}`,
    `${sign}\\frac{${2 * p}}{${2 * q}}`,
    `\\frac{${sign}${p}}{${q}}`,
  ];
  let rest = q;
  while (rest % 2 === 0) rest /= 2;
  while (rest % 5 === 0) rest /= 5;
  const different = [`${sign}\\frac{${p + 1}}{${q}}`];
  // A terminating decimal is the same number (0.5 for \frac{1}{2}); a rounded one is not (0.33 for \frac{1}{3}).
  if (rest === 1) same.push(`${sign}${p / q}`);
  else different.push(`${sign}${(p / q).toFixed(2)}`);
  return { same, different };
}

function decimalForms(answer: string): { same: string[]; different: string[] } | null {
  if (!/^-?\d*\.\d+$/.test(answer)) return null;
  return { same: [`${answer}0`, answer.replace(/^(-?)\./, '$10.')], different: [String(Number(answer) * 2)] };
}

function numericForms(answer: string) {
  return integerForms(answer) ?? fractionForms(answer) ?? decimalForms(answer);
}

describe('the verifier on equivalent and different forms of the ground truths', () => {
  it.each([
    ['math500', MATH500],
    ['gsm8k', GSM8K],
  ])(
    '%s: numbers in other forms verify (0.5 = \\frac{1}{2}, 1,000 = 1000.0), other numbers do not',
    async (_, answers) => {
      const cases = answers.flatMap((answer) => {
        const forms = numericForms(answer);
        return forms ? [{ answer, ...forms }] : [];
      });
      expect(cases.length).toBeGreaterThan(answers.length / 2);
      const same = cases.flatMap(({ answer, same }) => same.map((form) => [boxed(form), answer] as const));
      const different = cases.flatMap(({ answer, different }) =>
        different.map((form) => [boxed(form), answer] as const),
      );
      expect(await disagreements(same, true)).toEqual([]);
      expect(await disagreements(different, false)).toEqual([]);
    },
  );

  it('math500: \\dfrac for \\frac, and no \\left/\\right, verify for every answer written with them', async () => {
    const cases = MATH500.flatMap((answer) => [
      ...(answer.includes('\\frac') ? [[boxed(answer.replace(/\\frac/g, '\\dfrac')), answer] as const] : []),
      ...(/\\left|\\right/.test(answer)
        ? [[boxed(answer.replace(/\\left|\\right/g, '')), answer] as const]
        : []),
    ]);
    expect(cases.length).toBeGreaterThan(50);
    expect(await disagreements(cases, true)).toEqual([]);
  });

  it('math500: every answer with a number is rejected once its first number changes', async () => {
    const cases = MATH500.flatMap((answer) => {
      const match = /\d+/.exec(answer);
      if (!match) return [];
      const changed =
        answer.slice(0, match.index) +
        String(Number(match[0]) + 1) +
        answer.slice(match.index + match[0].length);
      return [[boxed(changed), answer] as const];
    });
    expect(cases.length).toBeGreaterThan(480);
    expect(await disagreements(cases, false)).toEqual([]);
  });

  it('math500: every answer without a number is rejected against the next different one', async () => {
    const wordy = [...new Set(MATH500.filter((answer) => !/\d/.test(answer)))];
    expect(wordy.length).toBeGreaterThan(5);
    const cases = wordy.map((answer, index) => [boxed(wordy[(index + 1) % wordy.length]!), answer] as const);
    expect(await disagreements(cases, false)).toEqual([]);
  });

  // [ground truth as in math500.jsonl, an equivalent form a model might write]
  const MATH500_FORMS: [string, string][] = [
    ['\\left( 3, \\frac{\\pi}{2} \\right)', '(3, \\pi/2)'],
    ['p - q', '-q + p'],
    ['\\text{Evelyn}', 'Evelyn'],
    ['90^\\circ', '90'],
    ['90^\\circ', '90^{\\circ}'],
    ['3\\sqrt{13}', '\\sqrt{117}'],
    ['6 - 5i', '-5i + 6'],
    ['x=5', '5'],
    ['1,-2', '1, -2'],
    ['11\\sqrt2', '11\\sqrt{2}'],
    ['-\\frac{\\pi}{6}', '-\\pi/6'],
    ['(6,31,-1)', '(6, 31, -1)'],
    [
      '\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}',
      '\\begin{pmatrix}-\\frac{1}{3}\\\\\\frac{2}{3}\\\\\\frac{5}{3}\\end{pmatrix}',
    ],
    ['\\frac43', '\\frac{4}{3}'],
    ['\\frac 59', '5/9'],
    ['\\frac9{19}', '\\frac{9}{19}'],
    ['\\frac{270}7\\text{ degrees}', '\\frac{270}{7}'],
    ['10,\\!080', '10080'],
    ['11,\\! 111,\\! 111,\\! 100', '11111111100'],
    ['\\text{(C)}', 'C'],
    ['\\$32,\\!348', '32348'],
    ['864 \\mbox{ inches}^2', '864'],
    ['15\\mbox{ cm}^2', '15'],
    ['1\\frac{4}{5}', '\\frac{9}{5}'],
    ['137 \\frac{1}{2}', '137.5'],
    ['5.4 \\text{ cents}', '5.4'],
    ['\\$18.90', '18.9'],
    ['x \\in [-2,7]', '[-2,7]'],
    ['y = 2x + 3', '2x+3'],
    ['\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]', '[\\pi^2/8, 5\\pi^2/4]'],
    ['\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}', '\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}'],
    ['2k+2', '2(k+1)'],
    ['\\frac{11+9a}{20}', '\\frac{9a+11}{20}'],
    ['(-\\infty, 2) \\cup (3, \\infty)', '(-\\infty,2)\\cup(3,\\infty)'],
    ['\\frac{20000}{\\pi}', '20000/\\pi'],
    ['6r^2-4r-24', '2(3r^2-2r-12)'],
  ];

  it('math500: hand-picked answers verify in another form a model might write', async () => {
    expect(MATH500_FORMS.filter(([truth]) => !MATH500.includes(truth))).toEqual([]);
    expect(
      await disagreements(
        MATH500_FORMS.map(([truth, form]) => [boxed(form), truth] as const),
        true,
      ),
    ).toEqual([]);
  });

  // Known limits: equivalent forms the verifier still rejects, listed so that a change of verdict is seen.
  // [ground truth, equivalent form, why it is rejected]
  const MATH500_REJECTED_FORMS: [string, string, string][] = [
    ['1,-2', '-2, 1', 'a list of solutions is compared in order'],
    ['3, 5, 7', '7, 5, 3', 'a list of solutions is compared in order'],
    [
      '\\{1\\pm\\sqrt{5},-2\\}',
      '1+\\sqrt{5}, 1-\\sqrt{5}, -2',
      '\\pm is not expanded, and a set is not a list',
    ],
    ['1 \\pm \\sqrt{19}', '1+\\sqrt{19}, 1-\\sqrt{19}', '\\pm is not expanded'],
    [
      '\\left(\\frac{3}{5},\\frac{8}{3}\\right]',
      '(0.6, 8/3]',
      'a half-open interval does not parse: compared as text only',
    ],
  ];

  it('math500: the known limits are still rejected (the reason is in the list)', async () => {
    expect(MATH500_REJECTED_FORMS.filter(([truth]) => !MATH500.includes(truth))).toEqual([]);
    const cases = MATH500_REJECTED_FORMS.map(([truth, form]) => [boxed(form), truth] as const);
    expect(await disagreements(cases, false)).toEqual([]);
  });
});
