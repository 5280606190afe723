import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TinkerClient } from '../../../engine/tinker.js';
import {
  jsonShape,
  scriptedSession,
  startRecordingProxy,
  type WireRecord,
} from '../../../engine-double/wire-parity.js';
import { BASE_MODEL, startDouble } from './helpers.js';

// SkyRL's answers to the same session, recorded by scripts/record-wire-fixtures.ts.
const skyrl = JSON.parse(
  readFileSync(new URL('../../fixtures/skyrl-wire.json', import.meta.url), 'utf8'),
) as { routes: WireRecord };

describe('wire-format parity with SkyRL', () => {
  it('answers the scripted session on every route with the status and JSON shape SkyRL answered', async () => {
    const double = await startDouble();
    const proxy = await startRecordingProxy(double.url);
    try {
      await scriptedSession(new TinkerClient({ baseUrl: proxy.url, baseModel: BASE_MODEL }), BASE_MODEL);
    } finally {
      await proxy.close();
      await double.close();
    }
    expect(Object.keys(proxy.record).sort()).toEqual(Object.keys(skyrl.routes).sort());
    for (const [route, answer] of Object.entries(skyrl.routes)) {
      expect(proxy.record[route], route).toEqual(answer);
    }
  });

  it('describes shapes by leaf types, sorted keys and first array elements', () => {
    expect(jsonShape({ b: [1, 2], a: null, c: { d: 'x' }, e: [] })).toEqual({
      a: 'null',
      b: ['number'],
      c: { d: 'string' },
      e: ['empty'],
    });
  });
});
