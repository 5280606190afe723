#!/usr/bin/env node
/**
 * `mel`: the operator surface of mel-temporal. `npm run mel -- <command>`; `mel <command> --help` for each.
 */
import { Command, CommanderError } from 'commander';
import { redactCredentials } from '../common/redact.js';
import { registerCompareCommand } from './compare-command.js';
import { ConfigError } from '../common/env.js';
import { CliError } from './context.js';
import { registerEvalCommand } from './eval-command.js';
import { registerExperienceCommands } from './experience-commands.js';
import { registerExportCommand } from './export-command.js';
import { registerReplayCommand } from './replay-command.js';
import { registerReportCommand } from './report-command.js';
import { registerRunCommands } from './run-commands.js';

export function buildProgram(): Command {
  const program = new Command('mel')
    .description('train, inspect and audit Meta-Experience Learning runs on Temporal')
    .showHelpAfterError()
    .exitOverride();
  registerRunCommands(program);
  registerExperienceCommands(program);
  registerReportCommand(program);
  registerCompareCommand(program);
  registerReplayCommand(program);
  registerEvalCommand(program);
  registerExportCommand(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof CliError || error instanceof ConfigError) {
      process.stderr.write(`error: ${redactCredentials(error.message)}\n`);
      return error instanceof CliError ? error.exitCode : 1;
    }
    // Unexpected: the stack trace is what a bug report needs.
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`error: ${redactCredentials(text)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
