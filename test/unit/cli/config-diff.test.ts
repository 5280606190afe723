import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../../cli/report/config-diff.js';

describe('diffConfigs', () => {
  it('lists only the leaves that differ, by dotted path, with each value; runId is left out', () => {
    const a = { runId: 'a', seed: 0, mode: 'mel', mel: { loss: { nllCoefficient: 1, other: 2 } } };
    const b = { runId: 'b', seed: 1, mode: 'mel', mel: { loss: { nllCoefficient: 0.5, other: 2 } } };
    expect(diffConfigs([a, b])).toEqual([
      {
        path: 'seed',
        values: [
          { present: true, value: 0 },
          { present: true, value: 1 },
        ],
      },
      {
        path: 'mel.loss.nllCoefficient',
        values: [
          { present: true, value: 1 },
          { present: true, value: 0.5 },
        ],
      },
    ]);
  });

  it('identical configurations (but for the run id) have no differences', () => {
    expect(
      diffConfigs([
        { runId: 'a', x: { y: [1, 2] } },
        { runId: 'b', x: { y: [1, 2] } },
      ]),
    ).toEqual([]);
  });

  it('compares arrays as values: element by element, the key order of objects inside them ignored', () => {
    const differences = diffConfigs([
      { list: [1, 2], objects: [{ p: 1, q: 2 }] },
      { list: [2, 1], objects: [{ q: 2, p: 1 }] },
    ]);
    expect(differences.map((d) => d.path)).toEqual(['list']);
    expect(differences[0]!.values).toEqual([
      { present: true, value: [1, 2] },
      { present: true, value: [2, 1] },
    ]);
  });

  it('a field present in some configurations only differs, and says where it is absent', () => {
    expect(diffConfigs([{ a: { b: 1 } }, { a: {} }, { a: { b: 1 } }])).toEqual([
      {
        path: 'a.b',
        values: [{ present: true, value: 1 }, { present: false }, { present: true, value: 1 }],
      },
      { path: 'a', values: [{ present: false }, { present: true, value: {} }, { present: false }] },
    ]);
    // An object in one, a value in the other: both paths are listed.
    expect(diffConfigs([{ a: { b: null } }, { a: 5 }]).map((d) => d.path)).toEqual(['a.b', 'a']);
  });

  it('with three runs, a field on which two of them agree still differs', () => {
    const [difference] = diffConfigs([{ seed: 1 }, { seed: 1 }, { seed: 2 }]);
    expect(difference!.values.map((v) => (v.present ? v.value : 'absent'))).toEqual([1, 1, 2]);
  });
});
