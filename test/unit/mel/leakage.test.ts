import { describe, expect, it } from 'vitest';
import { applyLeakagePolicy, findLeakage, LeakageConfigSchema, leakedTokens } from '../../../mel/index.js';

const problem = { question: 'Compute 2/3 + 5/8. Give the answer in lowest terms.', answer: '31/24' };

describe('leakage check (generalisation constraint)', () => {
  it('passes abstract heuristics', () => {
    const report = findLeakage(
      {
        heuristics: ['If fractions are added, then rewrite them over a common denominator.'],
        reflectiveSummary: 'I will align units before combining quantities.',
      },
      problem,
    );
    expect(report).toEqual({ leaked: false, offendingTokens: [] });
  });

  it("reports the problem's numbers and its answer, in order of appearance, once each", () => {
    const report = findLeakage(
      {
        heuristics: ['If I see 5/8, then I scale it by 3.', 'The result 31/24 again has 8 in it.'],
        reflectiveSummary: 'I got 31 over 24.',
      },
      problem,
    );
    expect(report.leaked).toBe(true);
    // numbers first, in order of appearance; then the answer itself, which appears verbatim
    expect(report.offendingTokens).toEqual(['5', '8', '3', '31', '24', '31/24']);
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

  it('checks only the heuristics and the summary, not the bifurcation point or critique', () => {
    const report = findLeakage(
      { heuristics: ['If adding fractions, then align denominators.'], reflectiveSummary: '' },
      problem,
    );
    expect(report.leaked).toBe(false);
  });

  it('applies the policy: report keeps a leaking candidate, reject drops it', () => {
    const leaking = { heuristics: ['If I see 5/8, then scale it.'], reflectiveSummary: '' };
    const clean = { heuristics: ['If adding fractions, then align denominators.'], reflectiveSummary: '' };
    const reject = LeakageConfigSchema.parse({ policy: 'reject' });
    expect(applyLeakagePolicy(leaking, problem)).toEqual({
      report: { leaked: true, offendingTokens: ['5', '8'] },
      rejected: false,
    });
    expect(applyLeakagePolicy(leaking, problem, reject).rejected).toBe(true);
    expect(applyLeakagePolicy(clean, problem, reject).rejected).toBe(false);
  });
});
