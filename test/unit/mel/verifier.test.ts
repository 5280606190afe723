import { afterAll, describe, expect, it } from 'vitest';
import {
  answersEquivalent,
  binaryReward,
  compareAnswers,
  verificationRecord,
  extractAnswerPhrase,
  extractBoxed,
  extractFinalAnswer,
  extractLastNumber,
  verifySolution,
  verifyTrustedSolution,
  VerifierConfigSchema,
  type VerifierConfig,
} from '../../../mel/index.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';

const pool = new VerifierPool({ threads: 1 });
const { compare } = pool;
afterAll(() => pool.close());

// [predicted, ground truth, expected equivalence]
const ANSWER_PAIRS: [string, string, boolean][] = [
  // integers
  ['5', '5', true],
  ['-5', '-5', true],
  ['05', '5', true],
  ['+5', '5', true],
  ['5', '-5', false],
  ['6', '5', false],
  ['0', '-0', true],
  ['42', '24', false],
  ['1000000', '1000000', true],
  ['2^{10}', '1024', true],
  ['10^3', '1000', true],
  ['2^{100}', '1267650600228229401496703205376', true],
  ['2^{100}', '1267650600228229401496703205377', false],
  // decimals
  ['0.5', '0.5', true],
  ['0.50', '0.5', true],
  ['.5', '0.5', true],
  ['3.0', '3', true],
  ['3.01', '3', false],
  ['-0.25', '-\\frac{1}{4}', true],
  ['0.333', '\\frac{1}{3}', false],
  ['0.3333', '1/3', false],
  ['1.5', '\\frac{3}{2}', true],
  ['2.5', '\\frac{2}{5}', false],
  ['0.1', '0.01', false],
  // fractions
  ['\\frac{1}{2}', '0.5', true],
  ['\\frac{1}{2}', '1/2', true],
  ['\\frac{2}{4}', '\\frac{1}{2}', true],
  ['\\dfrac{3}{4}', '0.75', true],
  ['\\tfrac{3}{4}', '\\frac{3}{4}', true],
  ['\\frac12', '\\frac{1}{2}', true],
  ['\\frac{1}{2}', '\\frac{1}{3}', false],
  ['\\frac{-1}{2}', '-\\frac{1}{2}', true],
  ['-\\frac{1}{2}', '\\frac{1}{2}', false],
  ['31/24', '\\frac{31}{24}', true],
  ['24/31', '\\frac{31}{24}', false],
  ['\\frac{10}{4}', '\\frac{5}{2}', true],
  ['\\frac9{19}', '\\frac{9}{19}', true],
  ['\\frac{270}7', '\\frac{270}{7}', true],
  ['\\frac{270}7', '\\frac{271}{7}', false],
  ['\\frac a{b}', '\\frac{a}{b}', true],
  ['\\frac{3}{4}', '\\frac{4}{3}', false],
  ['7/1', '7', true],
  ['\\frac{1}{2}+\\frac{1}{3}', '\\frac{5}{6}', true],
  ['\\left(\\frac{1}{2}\\right)', '0.5', true],
  // radicals and constants
  ['\\sqrt{8}', '2\\sqrt{2}', true],
  ['\\sqrt{12}', '2\\sqrt{3}', true],
  ['\\sqrt{2}', '\\sqrt{3}', false],
  ['\\frac{\\sqrt{2}}{2}', '\\frac{1}{\\sqrt{2}}', true],
  ['sqrt(2)/2', '\\frac{\\sqrt{2}}{2}', true],
  ['\\sqrt{2}', '1.4142135623730951', true],
  ['\\sqrt{2}', '1.414', false],
  ['2\\sqrt{2}', '\\sqrt{2}', false],
  ['\\sqrt{4}', '2', true],
  ['\\sqrt[3]{27}', '3', true],
  ['\\pi', '\\pi', true],
  ['3.14', '\\pi', false],
  ['\\frac{\\pi}{2}', '\\frac{1}{2}\\pi', true],
  ['2\\pi', '\\pi', false],
  ['\\infty', '\\infty', true],
  // complex numbers: both parts count
  ['6+5i', '6-5i', false],
  ['1+2i', '1+3i', false],
  ['6 - 5i', '-5i + 6', true],
  ['\\frac{1}{2}+i', '0.5+i', true],
  // percentages
  ['50\\%', '50', true],
  ['50%', '50', true],
  ['0.5', '50\\%', true],
  ['50\\%', '0.5', true],
  ['0.5', '50', false],
  ['25\\%', '50\\%', false],
  ['12.5\\%', '12.5', true],
  // units and decoration
  ['10\\text{ cm}', '10', true],
  ['10 \\text{cm}', '10', true],
  ['10\\mbox{ meters}', '10', true],
  ['15\\mbox{ cm}^2', '15', true],
  ['10\\text{ m}^{2}', '10', true],
  ['864 \\mbox{ inches}^2', '746496', false],
  ['5 apples', '5', true],
  ['5 cm', '6', false],
  ['45^\\circ', '45', true],
  ['45^{\\circ}', '45', true],
  ['45°', '45', true],
  ['90^\\circ', '45', false],
  ['\\$5', '5', true],
  ['$5$', '5', true],
  ['\\(5\\)', '5', true],
  ['\\[5\\]', '5', true],
  ['$\\frac{1}{2}$', '0.5', true],
  ['\\boxed{7}', '7', true],
  ['\\displaystyle\\frac{1}{2}', '0.5', true],
  ['5.', '5', true],
  // thousands separators
  ['1,000', '1000', true],
  ['1,000,000', '1000000', true],
  ['1{,}000', '1000', true],
  ['1\\,000', '1000', true],
  ['10,\\!080', '10080', true],
  ['11,\\! 111,\\! 111,\\! 100', '11111111100', true],
  ['11,\\! 111,\\! 111,\\! 100', '11111111101', false],
  ['12,345.5', '12345.5', true],
  ['1,000', '1', false],
  ['1,001', '1000', false],
  // variables, equations, expressions
  ['x = 5', '5', true],
  ['x=5', '5', true],
  ['y = \\frac{1}{2}', '0.5', true],
  ['x = 5', '6', false],
  ['2x+1', '1+2x', true],
  ['x^2-1', '(x-1)(x+1)', true],
  ['2x', '3x', false],
  ['x+1', 'x-1', false],
  ['a', 'b', false],
  ['2a+2b', '2(a+b)', true],
  // relations: the same relation with equal sides, not any two (the engine's isEqual calls both False, so equal)
  ['5x - 7y + 11z + 4 = 0', '5x - 7y + 11z + 4 = 1', false],
  ['4 + 5x - 7y + 11z = 0', '5x - 7y + 11z + 4 = 0', true],
  ['2x + 1 < 3', '2x + 1 > 3', false],
  ['(a = 1, b = 2)', '(a = 3, b = 4)', false],
  // tuples and intervals
  ['(1,2)', '(1, 2)', true],
  ['(1,2)', '(2,1)', false],
  ['(1, 2, 3)', '(1, 2)', false],
  ['[\\pi^2/8, 5\\pi^2/4]', '\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]', true],
  ['[\\pi^2/8, 5\\pi^2/4]', '[\\pi^2/8, 3\\pi^2/4]', false],
  ['(1, \\sqrt{8})', '(1, 2\\sqrt{2})', true],
  ['(1, 2)', '[1, 2]', false],
  ['x \\in [-2,7]', '[-2,7]', true],
  ['x \\in [-2,7]', '[-2,8]', false],
  ['x \\in (2, \\infty)', '(2,\\infty)', true],
  ['\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}', '\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}', true],
  [
    '\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}',
    '\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\end{pmatrix}',
    true,
  ],
  ['\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}', '\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}', false],
  // text answers
  ['Yes', 'yes', true],
  ['no', 'yes', false],
  ['\\text{(A)}', 'A', true],
  // tricky negatives: empty or garbage never matches
  ['', '5', false],
  ['5', '', false],
  ['   ', '0', false],
  ['\\frac{1}{', '\\frac{1}{2}', false],
  ['}{', '5', false],
  ['NaN', '5', false],
  ['5/0', '5', false],
];

describe('answersEquivalent (table)', () => {
  it('has at least 100 answer pairs, with both outcomes well represented', () => {
    expect(ANSWER_PAIRS.length).toBeGreaterThanOrEqual(100);
    expect(ANSWER_PAIRS.filter(([, , equal]) => !equal).length).toBeGreaterThanOrEqual(35);
  });

  it.each(ANSWER_PAIRS)('%s vs %s -> %s', (predicted, truth, expected) => {
    expect(answersEquivalent(predicted, truth)).toBe(expected);
  });

  it('is symmetric on the table', () => {
    for (const [predicted, truth, expected] of ANSWER_PAIRS) {
      expect([predicted, truth, answersEquivalent(truth, predicted)]).toEqual([predicted, truth, expected]);
    }
  });

  it('gives the same verdicts when the comparison runs in the worker pool', async () => {
    const verdicts = await Promise.all(
      ANSWER_PAIRS.map(
        async ([predicted, truth]) => (await compareAnswers(predicted, truth, compare)).correct,
      ),
    );
    expect(verdicts).toEqual(ANSWER_PAIRS.map(([, , expected]) => expected));
  });

  it('honours the relative tolerance and the percent option', () => {
    const loose = VerifierConfigSchema.parse({ relativeTolerance: 1e-3 });
    expect(answersEquivalent('0.3333', '1/3', loose)).toBe(true);
    const strictPercent = VerifierConfigSchema.parse({ percentMatchesFraction: false });
    expect(answersEquivalent('0.5', '50\\%', strictPercent)).toBe(false);
    expect(answersEquivalent('50', '50\\%', strictPercent)).toBe(true);
  });
});

describe('symbolic comparison', () => {
  // Parsing "w \\in [1,2]" makes w a tuple in the engine's scope: "2w+3" no longer parsed after it, in that thread.
  const sequence: [string, string, boolean][] = [
    ['2w+3', '3+2w', true],
    ['3, w \\in [1,2]', '3, w \\in [1,3]', false],
    ['2w+3', '3+2w', true],
  ];

  it('gives no verdict that depends on the answers compared before it', () => {
    for (const [predicted, truth, expected] of sequence) {
      expect([predicted, truth, answersEquivalent(predicted, truth)]).toEqual([predicted, truth, expected]);
    }
  });

  it('nor in a worker thread, which compares answers for as long as it lives', async () => {
    for (const [predicted, truth, expected] of sequence) {
      const { correct } = await compareAnswers(predicted, truth, compare);
      expect([predicted, truth, correct]).toEqual([predicted, truth, expected]);
    }
  });
});

describe('answer extraction', () => {
  it('takes the last complete \\boxed{} with nested braces', () => {
    expect(extractBoxed('first \\boxed{1}, then \\boxed{\\frac{1}{\\sqrt{2}}} end')).toBe(
      '\\frac{1}{\\sqrt{2}}',
    );
    expect(extractBoxed('\\boxed{\\{1, 2\\}}')).toBe('\\{1, 2\\}');
    expect(extractBoxed('\\fbox{9}')).toBe('9');
    expect(extractBoxed('\\boxed 5 is it')).toBe('5');
  });

  it('ignores a truncated \\boxed{ and keeps the earlier complete one', () => {
    expect(extractBoxed('\\boxed{3} and later \\boxed{\\frac{1}{2')).toBe('3');
    expect(extractBoxed('\\boxed{\\frac{1}{2')).toBeNull();
    expect(extractBoxed('\\boxed{}')).toBeNull();
    expect(extractBoxed('\\boxedx{3}')).toBeNull();
  });

  it('finds "The answer is ..." and cleans trailing punctuation and bold', () => {
    expect(extractAnswerPhrase('So the answer is 42.')).toBe('42');
    expect(extractAnswerPhrase('Final answer: **-3/4**')).toBe('-3/4');
    expect(extractAnswerPhrase('The answer is 1.\nWait, the answer is 2.')).toBe('2');
    expect(extractAnswerPhrase('no phrase here 5')).toBeNull();
  });

  it('falls back to the last number, keeping thousands separators and fractions whole', () => {
    expect(extractLastNumber('we get 3 apples and then 1,250 pears')).toBe('1,250');
    expect(extractLastNumber('ratio 3 / 4')).toBe('3/4');
    expect(extractLastNumber('it is -2.5 degrees')).toBe('-2.5');
    expect(extractLastNumber('no digits')).toBeNull();
  });

  it('prefers boxed over phrase over last number, and honours the configured extractors', () => {
    const text = 'The answer is 3. Checking 7 again: \\boxed{5}. Then 9.';
    expect(extractFinalAnswer(text)).toEqual({ answer: '5', method: 'boxed' });
    expect(extractFinalAnswer('The answer is 3. Then 9.')).toEqual({
      answer: '3. Then 9',
      method: 'answer-phrase',
    });
    expect(extractFinalAnswer('We get 9')).toEqual({ answer: '9', method: 'last-number' });
    expect(extractFinalAnswer('We get 9', ['boxed'])).toBeNull();
  });
});

describe('verifySolution and binaryReward (Eq. 1)', () => {
  it('rewards a correct boxed answer in another form', async () => {
    const solution = '3/4 + 1/4 = 1, so half of it...\n\\boxed{\\frac{1}{2}}';
    expect(await verifySolution(solution, '0.5', compare)).toEqual({
      correct: true,
      reason: 'equivalent',
      extracted: '\\frac{1}{2}',
      method: 'boxed',
    });
    expect(await binaryReward(solution, '0.5', compare)).toBe(1);
  });

  it('gives 0 for a wrong answer, and for a solution with no answer at all', async () => {
    expect(await binaryReward('\\boxed{3}', '4', compare)).toBe(0);
    expect(await verifySolution('\\boxed{x+1}', '4', compare)).toMatchObject({ reason: 'not-equivalent' });
    expect(await verifySolution('I do not know.', '4', compare)).toEqual({
      correct: false,
      reason: 'no-answer',
      extracted: null,
      method: null,
    });
  });

  it('reads "The answer is 1,250 dollars." as 1250', async () => {
    expect((await verifySolution('The answer is 1,250 dollars.', '1250', compare)).correct).toBe(true);
  });

  it('with boxed-only extraction a bare number is not accepted', async () => {
    const boxedOnly = VerifierConfigSchema.parse({ extractors: ['boxed'] });
    expect(await binaryReward('the result is 4', '4', compare, boxedOnly)).toBe(0);
    expect(await binaryReward('the result is \\boxed{4}', '4', compare, boxedOnly)).toBe(1);
  });

  it('scores 0 unread a solution longer than maxOutputChars', async () => {
    const small = VerifierConfigSchema.parse({ maxOutputChars: 20 });
    expect(await verifySolution('\\boxed{4}', '4', compare, small)).toMatchObject({ correct: true });
    expect(await verifySolution(`${' '.repeat(20)}\\boxed{4}`, '4', compare, small)).toEqual({
      correct: false,
      reason: 'output-too-large',
      extracted: null,
      method: null,
    });
  });

  it('gives the deadline and the size limit their defaults in a run configuration stored without them', async () => {
    const { extractors, relativeTolerance, percentMatchesFraction } = VerifierConfigSchema.parse({});
    const stored = { extractors, relativeTolerance, percentMatchesFraction } as VerifierConfig;
    const verdict = await verifySolution('so \\boxed{\\frac{1}{2}}', '0.5', compare, stored);
    expect(verdict).toMatchObject({ correct: true, reason: 'equivalent' });
    const huge = `\\boxed{1}${' '.repeat(70_000)}`;
    expect(await verifySolution(huge, '1', compare, stored)).toMatchObject({
      reason: 'output-too-large',
    });
  });

  it('verifyTrustedSolution gives the same verdicts on the calling thread', () => {
    expect(verifyTrustedSolution('so \\boxed{\\frac{1}{2}}', '0.5')).toMatchObject({
      correct: true,
      reason: 'equivalent',
    });
    expect(verifyTrustedSolution('\\boxed{3}', '4')).toMatchObject({
      correct: false,
      reason: 'not-equivalent',
    });
  });
});

describe('verificationRecord', () => {
  it('keeps the verdict and why, the extracted answer, how it was found, and the ground truth', async () => {
    const right = await verificationRecord('so \\boxed{\\frac{1}{2}}', '0.5', compare);
    expect(right).toMatchObject({ correct: true, extractedAnswer: '\\frac{1}{2}', groundTruth: '0.5' });
    expect(right.extractionMethod).not.toBeNull();
    expect(await verificationRecord('no answer here', '3', compare)).toEqual({
      correct: false,
      reason: 'no-answer',
      extractedAnswer: null,
      extractionMethod: null,
      groundTruth: '3',
    });
  });
});
