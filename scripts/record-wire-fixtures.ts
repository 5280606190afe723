/**
 * Records the JSON shapes of SkyRL's answers to one scripted session of the project's Tinker client
 * (engine-double/wire-parity.ts) into test/fixtures/skyrl-wire.json; the engine double's unit tests compare its own
 * answers with them. Starts a temporary engine on the committed warm model: `npx tsx scripts/record-wire-fixtures.ts`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadEnv, REPO_ROOT, WARM_MODEL_DIR } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { TinkerClient } from '../engine/tinker.js';
import { scriptedSession, startRecordingProxy } from '../engine-double/wire-parity.js';
import { withTemporaryEngine } from '../stack/temporary-engine.js';

export const WIRE_FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'skyrl-wire.json');

const log = createLogger('record-wire');
await withTemporaryEngine(loadEnv(), WARM_MODEL_DIR, log, async ({ engineUrl }) => {
  const proxy = await startRecordingProxy(engineUrl);
  try {
    await scriptedSession(
      new TinkerClient({ baseUrl: proxy.url, baseModel: WARM_MODEL_DIR }),
      WARM_MODEL_DIR,
    );
  } finally {
    await proxy.close();
  }
  const fixture = {
    recordedAt: new Date().toISOString(),
    server: 'SkyRL 0.3.0 (engine/python/constraints.txt)',
    routes: proxy.record,
  };
  await writeFile(WIRE_FIXTURE, `${JSON.stringify(fixture, null, 2)}\n`);
  log.info({ file: WIRE_FIXTURE, routes: Object.keys(proxy.record).length }, 'recorded');
});
