import { describe, expect, it } from 'vitest';
import {
  decideReplays,
  gateForReplay,
  reflectionText,
  replaySeedItem,
  replaySettings,
  type ReplayOutcome,
} from '../../../mel/index.js';

const metaExperience = {
  bifurcationPoint: 's',
  critique: 'c',
  heuristics: ['If a, then b.'],
  reflectiveSummary: 'r',
  rawText: '## 1. … the whole reflection',
};

describe('the gate before replay', () => {
  it('replays a parsed reflection with its raw text under either gate', () => {
    for (const gate of ['strict', 'replay-only'] as const) {
      expect(gateForReplay(gate, { ok: true, metaExperience }, ['ignored'])).toEqual({
        replay: true,
        experience: metaExperience.rawText,
      });
    }
  });

  it('strict: one that did not parse is rejected as unparseable with the parse reason', () => {
    expect(gateForReplay('strict', { ok: false, reason: 'truncated' }, ['## 1. Half a refl'])).toEqual({
      replay: false,
      reason: 'unparseable',
      detail: 'truncated',
    });
  });

  it('replay-only: one that did not parse is replayed with its raw text, exactly as generated', () => {
    expect(
      gateForReplay('replay-only', { ok: false, reason: 'missing-sections: heuristics' }, ['  text \n']),
    ).toEqual({ replay: true, experience: '  text \n', unparsed: 'missing-sections: heuristics' });
    // Chained turns are joined as the parser joins them.
    expect(gateForReplay('replay-only', { ok: false, reason: 'truncated' }, ['a', 'b'])).toEqual({
      replay: true,
      experience: 'a\n\nb',
      unparsed: 'truncated',
    });
  });

  it('replay-only: an empty reflection is rejected before replay', () => {
    expect(gateForReplay('replay-only', { ok: false, reason: 'empty-output' }, [' \n'])).toEqual({
      replay: false,
      reason: 'unparseable',
      detail: 'empty-output',
    });
    expect(gateForReplay('replay-only', { ok: false, reason: 'truncated' }, [''])).toEqual({
      replay: false,
      reason: 'unparseable',
      detail: 'empty-output (truncated)',
    });
    expect(gateForReplay('replay-only', { ok: false, reason: 'not sampled (x)' }, [])).toMatchObject({
      replay: false,
    });
  });

  it('joins chained turns with a blank line, as the chained parser does', () => {
    expect(reflectionText(['s*', 'C', 'H'])).toBe('s*\n\nC\n\nH');
    expect(reflectionText(['only'])).toBe('only');
  });
});

describe('replay seeds and settings', () => {
  it('replay 0 keeps the candidate’s item, the others append their index', () => {
    expect(replaySeedItem('step-0/p1/pair-s0-s1/me', 0)).toBe('step-0/p1/pair-s0-s1/me');
    expect(replaySeedItem('step-0/p1/pair-s0-s1/me', 2)).toBe('step-0/p1/pair-s0-s1/me/replay-2');
  });

  it('a run stored before the settings existed is strict with one replay', () => {
    expect(replaySettings({ metaExperience: {} })).toEqual({ gate: 'strict', replays: 1, minCorrect: 1 });
    expect(
      replaySettings({ metaExperience: { gate: 'replay-only' }, validation: { replays: 3, minCorrect: 2 } }),
    ).toEqual({ gate: 'replay-only', replays: 3, minCorrect: 2 });
  });
});

describe('the acceptance rule over replays', () => {
  const right: ReplayOutcome = { correct: true, extractedAnswer: '5', verifierReason: 'equivalent' };
  const wrong = (answer: string | null, reason: ReplayOutcome['verifierReason'] = 'not-equivalent') => ({
    correct: false,
    extractedAnswer: answer,
    verifierReason: reason,
  });

  it('one replay keeps the original wording', () => {
    expect(decideReplays([right], 1, '5')).toEqual({
      accepted: true,
      correct: 1,
      detail: 'replay answered 5, which matches 5',
    });
    expect(decideReplays([wrong('4')], 1, '5').detail).toBe('replay answered 4, expected 5');
    expect(decideReplays([wrong(null, 'no-answer')], 1, '5').detail).toBe(
      'replay answered (no answer found), expected 5',
    );
    expect(decideReplays([wrong('4', 'verifier-timeout')], 1, '5').detail).toBe(
      'replay answered 4, expected 5 (verifier-timeout)',
    );
  });

  it('k = 3, m = 2: accepted when 2 verify, rejected when 1 does', () => {
    expect(decideReplays([right, wrong('7'), right], 2, '5')).toEqual({
      accepted: true,
      correct: 2,
      detail: '2 of 3 replays answered 5, 2 needed; the other answered 7',
    });
    expect(decideReplays([wrong('7'), right, wrong(null, 'no-answer')], 2, '5')).toEqual({
      accepted: false,
      correct: 1,
      detail: '1 of 3 replays answered 5, 2 needed; the others answered 7, (no answer found)',
    });
    expect(decideReplays([right, right, right], 3, '5').detail).toBe('3 of 3 replays answered 5, 3 needed');
  });
});
