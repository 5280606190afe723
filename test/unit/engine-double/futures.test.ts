import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FutureStore } from '../../../engine-double/futures.js';

describe('FutureStore', () => {
  it('answers a re-poll with the same result for a while after handing it out, then forgets it', async () => {
    const store = new FutureStore(200);
    const id = store.create(Promise.resolve({ tokens: [1, 2] }));
    expect(await store.wait(id, 1_000)).toEqual({ status: 'done', value: { tokens: [1, 2] } });
    expect(await store.wait(id, 1_000)).toEqual({ status: 'done', value: { tokens: [1, 2] } }); // a lost answer
    await sleep(300);
    expect(await store.wait(id, 1_000)).toEqual({ status: 'unknown' });
    expect(store.counts()).toEqual({ pending: 0, settled: 0 });
  });

  it('keeps a result nobody fetched yet, and a pending one, whatever the time', async () => {
    const store = new FutureStore(50);
    let release = (_value: unknown) => {};
    const pending = store.create(new Promise((resolve) => (release = resolve)));
    const unfetched = store.create(Promise.reject(new Error('bad advantages')));
    expect(await store.wait(pending, 20)).toEqual({ status: 'timeout' });
    await sleep(120);
    expect(store.counts()).toEqual({ pending: 1, settled: 1 });
    expect(await store.wait(unfetched, 1_000)).toEqual({ status: 'failed', detail: 'bad advantages' });
    release('done');
    expect(await store.wait(pending, 1_000)).toEqual({ status: 'done', value: 'done' });
  });
});
