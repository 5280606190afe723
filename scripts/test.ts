/**
 * `npm test`: typecheck and lint, install the stack (cached), start it, run unit and integration tests against
 * it, stop what this run started, and exit non-zero on any failure.
 */
import { spawn } from 'node:child_process';
import { createLogger } from '../common/logger.js';
import { Stack } from '../stack/stack.js';

const log = createLogger('test');

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const extraVitestArgs = process.argv.slice(2);
  for (const [name, args] of [
    ['typecheck', ['node_modules/.bin/tsc', '--noEmit', '-p', '.']],
    ['lint', ['node_modules/.bin/eslint', '.']],
  ] as const) {
    log.info(`running ${name}`);
    if ((await run(args[0], [...args.slice(1)])) !== 0) {
      log.error(`${name} failed`);
      return 1;
    }
  }
  const stack = await Stack.prepare(log);
  const started = await stack.up();
  try {
    return await run('node_modules/.bin/vitest', ['run', ...extraVitestArgs]);
  } finally {
    await stack.down(started);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
