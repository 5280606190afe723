/** A run's data set as `mel train` and `mel replay` read it before they start anything. */
import { describeSkippedRows } from '../mel/index.js';
import { loadRunDataset, type RunDataset } from '../mel/node.js';
import type { RunConfig } from '../mel/run-config.js';
import { CliError } from './context.js';

/** Reads and checks the run's data set: a missing file, a bad row (unless skipped) or no usable row is a CliError. */
export async function readRunData(config: RunConfig): Promise<RunDataset> {
  return loadRunDataset(config).catch((error: unknown) => {
    throw new CliError(`cannot use data set ${config.dataset.source}: ${(error as Error).message}`);
  });
}

/** The data set's line: its hash and size, then each skipped row and why (the first few). */
export function describeRunData({ source, sha256, problems, badRows }: RunDataset): string {
  const head = `data:   ${source} (sha256 ${sha256.slice(0, 12)}), ${problems.length} problems`;
  if (badRows.length === 0) return head;
  const skipped = describeSkippedRows(badRows).map((line) => `  ${line}`);
  return [`${head}; ${badRows.length} bad rows skipped:`, ...skipped].join('\n');
}
