import { describe, expect, it } from 'vitest';
import { lookDeeperCommands, type ExperienceRow } from '../../../cli/experience-commands.js';

function row(id: string, accepted: boolean | undefined): ExperienceRow {
  const verdict: ExperienceRow['verdict'] =
    accepted === undefined
      ? null
      : { accepted, reason: accepted ? 'replay-verified' : 'replay-wrong-answer', detail: '' };
  return { id, step: 0, problemId: 'p', verdict, heuristics: [], internalizedNll: null };
}

describe('lookDeeperCommands', () => {
  it('audits each accepted meta-experience, up to a few, then status and report', () => {
    const rows = [row('r/a', true), row('r/b', false), row('r/c', true), row('r/d', true), row('r/e', true)];
    expect(lookDeeperCommands('r', rows)).toEqual([
      'npx mel audit r/a',
      'npx mel audit r/c',
      'npx mel audit r/d',
      'npx mel experiences r --accepted    # the other 1 accepted',
      'npx mel status r',
      'npx mel report r',
    ]);
  });

  it('says plainly when none was accepted, and audits one rejected', () => {
    expect(lookDeeperCommands('r', [row('r/x', undefined), row('r/b', false), row('r/c', false)])).toEqual([
      'No meta-experience was accepted in this run (0 of 3 candidates).',
      'npx mel audit r/b    # why this one was rejected',
      'npx mel status r',
      'npx mel report r',
    ]);
  });

  it('says so when the run proposed no meta-experience at all', () => {
    expect(lookDeeperCommands('r', [])[0]).toMatch(/^No meta-experience was proposed/);
  });
});
