import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChainedMetaExperience, parseMetaExperience } from '../../../mel/index.js';

const WELL_FORMED = `## 1. Failure Resolution Path & Error Pattern Recognition
**Failure Point:** Step 2, where the denominators were added directly.
**Latent Cognitive Pattern:** Treating fractions like whole numbers (concept conflation).
## 2. Analysis of Success Factors
**Robustness Factor:** The correct solution rewrote both fractions over a common denominator first.
**Reason for Effectiveness:** Addition is only defined on like units.
## 3. First-Person Reflective Summary
I rushed into adding parts. I will check that the units agree before combining.
## 4. Subject Heuristics (Internalized Experience)
- [Like Units]: If I add fractions, then I first rewrite them over a common denominator.
- [Sanity Bound]: When a sum of positive terms is smaller than one term,
  I must recheck the operation.
`;

describe('parseMetaExperience (single call)', () => {
  it('extracts s*, C, H and the summary from the Appendix C format', () => {
    const result = parseMetaExperience(WELL_FORMED);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const m = result.metaExperience;
    expect(m.bifurcationPoint).toBe('Step 2, where the denominators were added directly.');
    expect(m.critique).toContain('Treating fractions like whole numbers');
    expect(m.critique).toContain('common denominator first');
    expect(m.critique).not.toContain('Step 2, where');
    expect(m.reflectiveSummary).toBe(
      'I rushed into adding parts. I will check that the units agree before combining.',
    );
    expect(m.heuristics).toEqual([
      '[Like Units]: If I add fractions, then I first rewrite them over a common denominator.',
      '[Sanity Bound]: When a sum of positive terms is smaller than one term, I must recheck the operation.',
    ]);
    expect(m.rawText).toBe(WELL_FORMED);
  });

  it('accepts other heading decorations (bold, numbering without #, trailing colons) and numbered items', () => {
    const text = `**1. Failure Resolution Path & Error Pattern Recognition**
Failure Point: the sign flip in line 3.
**2. Analysis of Success Factors**
Kept track of signs.
3) First-Person Reflective Summary:
I will track signs.
**4. Subject Heuristics**
1. If a term changes sides, then flip its sign.
2. When subtracting a negative, I must add.`;
    const result = parseMetaExperience(text);
    expect(result.ok && result.metaExperience.heuristics).toEqual([
      'If a term changes sides, then flip its sign.',
      'When subtracting a negative, I must add.',
    ]);
    expect(result.ok && result.metaExperience.bifurcationPoint).toBe('the sign flip in line 3.');
  });

  it('does not mistake a sentence mentioning heuristics for a heading', () => {
    const text = WELL_FORMED.replace(
      'I rushed into adding parts.',
      'I rushed into adding parts.\nHeuristics matter because they transfer.',
    );
    const result = parseMetaExperience(text);
    expect(result.ok && result.metaExperience.reflectiveSummary).toContain('Heuristics matter');
    expect(result.ok && result.metaExperience.heuristics.length).toBe(2);
  });

  it.each([
    ['', 'empty-output'],
    ['   \n ', 'empty-output'],
    ['just some rambling without any structure', 'missing-sections: failure, success, summary, heuristics'],
    [WELL_FORMED.split('## 4.')[0] ?? '', 'missing-sections: heuristics'],
    [WELL_FORMED.replace(/## 3\.[^#]*/, ''), 'missing-sections: summary'],
    [WELL_FORMED.replace(/- \[Like[\s\S]*$/, ''), 'empty-sections: heuristics'],
  ])('rejects malformed text with a reason (%#)', (text, reason) => {
    const result = parseMetaExperience(text);
    expect(result).toEqual({ ok: false, reason, rawText: text });
  });

  it('rejects truncated output even when it looks complete', () => {
    expect(parseMetaExperience(WELL_FORMED, { truncated: true })).toMatchObject({
      ok: false,
      reason: 'truncated',
    });
  });

  it('can require conditional (If/When) heuristics', () => {
    const text = WELL_FORMED.replace('- [Like Units]: If I add', '- [Like Units]: Always add');
    expect(parseMetaExperience(text).ok).toBe(true);
    expect(parseMetaExperience(text, { requireConditionalHeuristics: true })).toMatchObject({
      ok: false,
      reason: 'non-conditional-heuristics',
    });
  });

  it('property: arbitrary text never throws and a rejection always carries a reason and the raw text', () => {
    const pieces = fc.constantFrom(
      '## 1. Failure Resolution Path',
      '## 2. Analysis of Success Factors',
      '## 3. First-Person Reflective Summary',
      '## 4. Subject Heuristics',
      '**Failure Point:**',
      '- ',
      '\n',
      '**',
      '}{',
    );
    const text = fc.array(fc.oneof(fc.string(), pieces), { maxLength: 30 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, fc.boolean(), (raw, truncated) => {
        const result = parseMetaExperience(raw, { truncated });
        if (!result.ok) {
          expect(result.reason.length).toBeGreaterThan(0);
          expect(result.rawText).toBe(raw);
        } else {
          expect(result.metaExperience.heuristics.length).toBeGreaterThan(0);
          expect(truncated).toBe(false);
        }
      }),
    );
  });
});

describe('parseChainedMetaExperience', () => {
  const outputs = {
    bifurcation: '**Failure Point:** Step 2 added the denominators.',
    critique: `## 1. Failure Resolution Path & Error Pattern Recognition
**Latent Cognitive Pattern:** concept conflation.
## 2. Analysis of Success Factors
Common denominators first.`,
    heuristics: `## 3. First-Person Reflective Summary
I will align units first.
## 4. Subject Heuristics (Internalized Experience)
- If fractions are added, then find a common denominator.`,
  };

  it('assembles the three step outputs into one meta-experience', () => {
    const result = parseChainedMetaExperience(outputs);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.metaExperience).toEqual({
      bifurcationPoint: 'Step 2 added the denominators.',
      critique: 'concept conflation.\n\nCommon denominators first.',
      heuristics: ['If fractions are added, then find a common denominator.'],
      reflectiveSummary: 'I will align units first.',
      rawText: [outputs.bifurcation, outputs.critique, outputs.heuristics].join('\n\n'),
    });
  });

  it('takes an unstructured critique as is', () => {
    const result = parseChainedMetaExperience({ ...outputs, critique: 'The error was conflating parts.' });
    expect(result.ok && result.metaExperience.critique).toBe('The error was conflating parts.');
  });

  it('rejects an empty step, a missing final section, or truncation, with a reason', () => {
    expect(parseChainedMetaExperience({ ...outputs, bifurcation: ' ' })).toMatchObject({
      ok: false,
      reason: 'empty-output: bifurcation step',
    });
    expect(parseChainedMetaExperience({ ...outputs, heuristics: 'I will align units first.' })).toMatchObject(
      {
        ok: false,
        reason: 'missing-sections: summary, heuristics',
      },
    );
    expect(parseChainedMetaExperience(outputs, { truncated: true })).toMatchObject({
      ok: false,
      reason: 'truncated',
    });
  });
});
