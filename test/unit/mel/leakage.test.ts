import { afterAll, describe, expect, it } from 'vitest';
import {
  answerLikeSpans,
  checkLeakage,
  LeakageConfigSchema,
  leakedTokens,
  SECTION_TITLES,
  type CompareSymbolically,
  type LeakageSettings,
} from '../../../mel/index.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';

const pool = new VerifierPool({ threads: 1 });
afterAll(() => pool.close());

const problem = { question: 'Compute 2/3 + 5/8. Give the answer in lowest terms.', answer: '31/24' };
const half = { question: 'What fraction of the tank is full?', answer: '0.5' };

/** A parseable reflection with `analysis` as its success analysis and clean last two sections. */
function reflection(analysis: string, failure = 'I added the numerators and the denominators.'): string {
  return [
    `## 1. ${SECTION_TITLES.failure}`,
    `**Failure Point:** ${failure}`,
    `## 2. ${SECTION_TITLES.success}`,
    analysis,
    `## 3. ${SECTION_TITLES.summary}`,
    'I will align denominators before adding.',
    `## 4. ${SECTION_TITLES.heuristics}`,
    '- If fractions are added, then rewrite them over a common denominator.',
  ].join('\n');
}

const REJECT: LeakageSettings = { leakage: LeakageConfigSchema.parse({ policy: 'reject' }) };

function check(text: string, target = problem, settings: LeakageSettings = {}) {
  return checkLeakage(text, target, pool.compare, settings);
}

describe('leakedTokens (problem-specific numbers and the answer as written)', () => {
  it("reports the problem's numbers and its answer, in order of appearance, once each", () => {
    const text = 'If I see 5/8, then I scale it by 3. The result 31/24 again has 8 in it. I got 31 over 24.';
    // numbers first, in order of appearance; then the answer itself, which appears verbatim
    expect(leakedTokens(text, problem)).toEqual(['5', '8', '3', '31', '24', '31/24']);
  });

  it('ignores 0, 1 and 2 by default, and that list is configurable', () => {
    const text = 'When there are 2 fractions, compare them one at a time.';
    expect(leakedTokens(text, problem)).toEqual([]);
    expect(leakedTokens(text, problem, LeakageConfigSchema.parse({ ignoredNumbers: [] }))).toEqual(['2']);
  });

  it('matches numbers as whole tokens in canonical form, not digits inside words or longer numbers', () => {
    const q = { question: 'A shop sells 1,200 pens at 2.50 each.', answer: '3000' };
    expect(leakedTokens('x12 and 120 and step3 are fine', q)).toEqual([]);
    expect(leakedTokens('It sold 1200 pens at 2.5 dollars for 3,000.', q)).toEqual(['1200', '2.5', '3000']);
  });

  it('reports a non-numeric answer written out in the text', () => {
    const q = { question: 'Simplify the expression.', answer: 'x^2 + 1' };
    expect(leakedTokens('If the result is x^2+1 then stop.', q)).toEqual(['x^2 + 1']);
  });
});

describe('answerLikeSpans', () => {
  it('lists statements (boxed, answer phrases and the value they open with) before values', () => {
    const text = 'So $x = 3$ and \\frac{1}{2} of 12.\nThe answer is 7/8 because.\nThen \\boxed{4}.';
    const spans = [...answerLikeSpans(text)];
    expect(spans.filter((span) => span.statesAnswer).map((span) => span.text)).toEqual([
      '4',
      '7/8 because',
      '7/8',
    ]);
    // math, then \\frac and \\sqrt, then numbers (those inside the others too)
    expect(spans.filter((span) => !span.statesAnswer).map((span) => span.text)).toEqual([
      'x = 3',
      '\\frac{1}{2}',
      '3',
      '1',
      '2',
      '12',
      '7/8',
      '4',
    ]);
  });

  it('does not read digits inside words, or unclosed math and braces, as values', () => {
    const text = 'step3 and x12, then $unclosed and \\frac{x}{ and \\(open';
    expect([...answerLikeSpans(text)]).toEqual([]);
  });
});

describe('checkLeakage (the generalisation constraint on everything the replay sees)', () => {
  it('passes an abstract reflection', async () => {
    const { report, rejected } = await check(reflection('The second solution checked each step.'));
    expect(report).toMatchObject({ leaked: false, offendingTokens: [], answerStatements: [] });
    expect(rejected).toBe(false);
  });

  it('rejects a reflection with the boxed answer in its analysis, whatever the leakage policy', async () => {
    const text = reflection('The second solution reached \\boxed{31/24} by checking each step.');
    const { report, rejected } = await check(text);
    expect(report.answerStatements).toEqual(['31/24']);
    expect(report.leaked).toBe(true);
    expect(rejected).toBe(true);
  });

  it.each([
    ['\\boxed{\\frac{1}{2}}', '\\frac{1}{2}'],
    ['\\boxed{1/2}', '1/2'],
    ['\\boxed{50\\%}', '50\\%'],
    ['The answer is 1/2.', '1/2'],
    ['The final answer: $\\dfrac{2}{4}$', '\\dfrac{2}{4}'],
    ['Its answer is 0.50 and I checked it twice.', '0.50'],
    ['**Answer:** \\( \\frac{1}{2} \\)', '\\frac{1}{2}'],
  ])('recognises the answer 0.5 stated as %s', async (statement, found) => {
    const { report, rejected } = await check(reflection(`It found it. ${statement}`), half);
    expect(report.answerStatements).toContain(found);
    expect(rejected).toBe(true);
  });

  it('recognises the answer in LaTeX when the truth is plain, and an unreduced fraction', async () => {
    const latexTruth = { question: 'Half of what?', answer: '\\frac{1}{2}' };
    expect((await check(reflection('Hence \\boxed{0.5}.'), latexTruth)).report.answerStatements).toEqual([
      '0.5',
    ]);
    const unreduced = reflection('Hence \\boxed{\\dfrac{62}{48}}.');
    expect((await check(unreduced)).report.answerStatements).toEqual(['\\dfrac{62}{48}']);
  });

  it('keeps statements of other answers: the incorrect solution’s answer, an unrelated box', async () => {
    const text = reflection(
      'Solution 1 said the answer is 7/8. Put the result in \\boxed{}, then \\boxed{3/4}.',
    );
    const { report, rejected } = await check(text);
    expect(report.answerStatements).toEqual([]);
    expect(rejected).toBe(false);
  });

  it('checks the failure point and critique too (the replay sees them), not the section numbering', async () => {
    const text = reflection(
      'The second solution checked each step.',
      'Solution 2 used 24 as the common denominator.',
    );
    const { report } = await check(text);
    expect(report.offendingTokens).toEqual(['24']);
  });

  it('reports an equivalent value as a mention, rejected only under the reject policy', async () => {
    const text = reflection('The tank was $\\frac{1}{2}$ full, which the second solution kept in mind.');
    const reported = await check(text, half);
    expect(reported.report).toMatchObject({ leaked: true, answerStatements: [] });
    expect(reported.report.offendingTokens).toEqual(['\\frac{1}{2}']);
    expect(reported.rejected).toBe(false);
    expect((await check(text, half, REJECT)).rejected).toBe(true);
  });

  it('ignores a tiny common number as a mention, never as a statement', async () => {
    const two = { question: 'How many roots does the quadratic have?', answer: '2' };
    const mention = await check(reflection('When there are 2 cases, check both.'), two);
    expect(mention.report.leaked).toBe(false);
    for (const statement of ['So \\boxed{2}.', 'The answer is 2.']) {
      const stated = await check(reflection(statement), two);
      expect(stated.report.answerStatements).toEqual(['2']);
      expect(stated.rejected).toBe(true);
    }
  });

  it('compares each distinct span once, statements first, and stops at maxComparedSpans', async () => {
    const calls: string[][] = [];
    const counting: CompareSymbolically = (comparison, deadlineMs) => {
      calls.push([...comparison.predicted]);
      return pool.compare(comparison, deadlineMs);
    };
    const numbers = Array.from({ length: 40 }, (_, i) => `${i + 10}/7`).join(', ');
    const text = reflection(`${'\\boxed{31/24} '.repeat(500)}Values: ${numbers}.`);
    const settings = { leakage: LeakageConfigSchema.parse({ maxComparedSpans: 5 }) };
    const { report, rejected } = await checkLeakage(text, problem, counting, settings);
    expect(report.answerStatements).toEqual(['31/24']);
    expect(rejected).toBe(true);
    expect(report.answerSpans).toEqual({ compared: 5, undecided: 0, capReached: true });
    expect(calls.length).toBeLessThanOrEqual(5);
  });

  it('counts a comparison that timed out as undecided, and not as the answer', async () => {
    const timingOut: CompareSymbolically = () => Promise.resolve('verifier-timeout');
    const { report, rejected } = await checkLeakage(
      reflection('So \\boxed{\\frac{31}{24}}.'),
      problem,
      timingOut,
    );
    expect(report.answerStatements).toEqual([]);
    expect(report.answerSpans.undecided).toBeGreaterThan(0);
    expect(rejected).toBe(false);
  });
});
