/**
 * `npm run stack -- <command>`: install | up | down | status | restart <service>
 * Manages the local Temporal dev server, PostgreSQL, FerretDB and SkyRL engine (ports and paths: README).
 */
import { createLogger } from '../common/logger.js';
import { redactCredentials, redactedMessage } from '../common/redact.js';
import { Stack } from '../stack/stack.js';
import type { ServiceName } from '../stack/services.js';

const log = createLogger('stack');
const RESTARTABLE: readonly string[] = ['temporal', 'postgres', 'mongodb', 'engine'] satisfies ServiceName[];
const USAGE =
  'usage: npm run stack -- install | up | down | status | restart <temporal|postgres|mongodb|engine>';

async function main(command: string | undefined, arg: string | undefined): Promise<number> {
  switch (command) {
    case 'install':
      await Stack.prepare(log);
      return 0;
    case 'up': {
      const stack = await Stack.prepare(log);
      await stack.up();
      printEndpoints(stack);
      return 0;
    }
    case 'down':
      await (await Stack.prepare(log)).down();
      return 0;
    case 'status': {
      const rows = await (await Stack.prepare(log)).status();
      for (const row of rows) {
        const who = row.managed ? `pid ${row.pid ?? '-'}` : 'external';
        console.log(
          `${row.ready ? 'ready ' : 'DOWN  '} ${row.name.padEnd(8)} ${who.padEnd(10)} ${row.describe}`,
        );
      }
      return rows.every((row) => row.ready) ? 0 : 1;
    }
    case 'restart': {
      if (!RESTARTABLE.includes(arg as ServiceName)) break;
      await (await Stack.prepare(log)).crashAndRestart(arg as ServiceName);
      return 0;
    }
  }
  console.error(USAGE);
  return 2;
}

function printEndpoints(stack: Stack) {
  const { endpoints } = stack;
  console.log(
    `Temporal    ${endpoints.temporalAddress}${endpoints.temporalUiUrl ? `  (UI ${endpoints.temporalUiUrl})` : ''}`,
  );
  console.log(`MongoDB     ${redactCredentials(endpoints.mongoUri)} (database ${endpoints.mongoDb})`);
  console.log(`Engine      ${redactCredentials(endpoints.engineUrl)} serving ${endpoints.baseModel}`);
  console.log('Stop with:  npm run stack -- down');
}

main(process.argv[2], process.argv[3]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${redactedMessage(error)}`);
    process.exit(1);
  },
);
