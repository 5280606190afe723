import { loadEnv } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { Stack } from '../../stack/stack.js';

/** Integration tests run against the real stack; `npm test` starts it. Fail early and clearly if it is down. */
export default async function checkStackIsUp() {
  const stack = Stack.fromInstalled(loadEnv(), {}, createLogger('test-setup'));
  const down = (await stack.status()).filter((service) => !service.ready);
  if (down.length > 0) {
    throw new Error(
      `integration tests need the stack, but these services are not answering: ` +
        `${down.map((service) => service.describe).join('; ')}. ` +
        'Run `npm test` (starts the stack itself) or `npm run stack -- up` first.',
    );
  }
}
