import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../common/env.js';
import { createLogger } from '../../../common/logger.js';
import { installLogFile, runInstallTask } from '../../../stack/steps.js';

const env = loadEnv({
  MEL_CACHE_DIR: mkdtempSync(path.join(os.tmpdir(), 'mel-steps-')),
  MEL_LOG_LEVEL: 'silent',
});
const log = createLogger('test');
const sh = (script: string) => ({ command: 'sh', args: ['-c', script] });

describe('runInstallTask', () => {
  it('runs the steps in order with their output in the task log', async () => {
    await runInstallTask(env, log, {
      name: 'ok',
      title: 'two steps',
      steps: [sh('echo one'), sh('echo two >&2')],
    });
    const text = readFileSync(installLogFile(env, 'ok'), 'utf8');
    expect(text).toMatch(/\$ sh -c echo one\none\n\$ sh -c echo two >&2\ntwo\n/);
  });

  it('names the failed command, the log and its last lines, and masks credentials', async () => {
    const failing = runInstallTask(env, log, {
      name: 'bad',
      title: 'failing',
      steps: [sh('echo fetching https://u:secret@example.com/x; exit 3'), sh('echo never')],
    });
    await expect(failing).rejects.toThrow(/exited with code 3\n {2}log: .*bad\.log\n {2}last lines:\n/);
    const message = await failing.catch((error: Error) => error.message);
    expect(message).toContain('https://u:***@example.com/x');
    expect(message).not.toContain('secret');
    expect(message).not.toContain('never');
  });

  it('says what to install when a command does not exist', async () => {
    const missing = runInstallTask(env, log, {
      name: 'missing',
      title: 'missing',
      steps: [{ command: 'mel-no-such-command', args: [] }],
    });
    await expect(missing).rejects.toThrow(/could not run mel-no-such-command[\s\S]*fix: make sure/);
  });
});
