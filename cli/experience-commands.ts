/** `mel experiences` and `mel audit`. */
import type { Command } from 'commander';
import { assembleAudit } from '../store/audit.js';
import type { MetaExperienceDoc } from '../store/documents.js';
import { listMetaExperiences, loadAuditEvidence, type VerdictFilter } from '../store/queries.js';
import { renderAudit, verdictLabel } from './audit-view.js';
import { CliError, emit, parseStepOption, withContext, type OutputOptions } from './context.js';
import { decimal, table } from './format.js';
import { linksOf } from './run-state.js';

export interface ExperienceRow {
  id: string;
  step: number;
  problemId: string;
  verdict: MetaExperienceDoc['verdict'] | null;
  heuristics: string[];
  internalizedNll: number | null;
}

export function experienceRow(doc: MetaExperienceDoc): ExperienceRow {
  return {
    id: doc._id,
    step: doc.step,
    problemId: doc.problemId,
    verdict: doc.verdict ?? null,
    heuristics: doc.parse.ok ? doc.parse.metaExperience.heuristics : [],
    internalizedNll: doc.internalization?.nll ?? null,
  };
}

export function renderExperiences(rows: ExperienceRow[]): string {
  if (rows.length === 0) return 'no meta-experiences match';
  const accepted = rows.filter((row) => row.verdict?.accepted).length;
  return (
    `${table(
      ['ID', 'STEP', 'VERDICT', 'HEURISTICS', 'NLL', 'DETAIL'],
      rows.map((row) => [
        row.id,
        String(row.step),
        verdictLabel(row.verdict),
        String(row.heuristics.length),
        decimal(row.internalizedNll, 3),
        row.verdict?.detail ?? '',
      ]),
      90,
    )}\n\n${rows.length} meta-experience(s): ${accepted} accepted, ${rows.length - accepted} rejected or pending. ` +
    'Full evidence: mel audit <ID>'
  );
}

/** How the CLI is run from the repository (package.json `bin`); `npm run mel --` works too. */
export const MEL_COMMAND = 'npx mel';

/**
 * The commands that look deeper into a run: `mel audit` of each accepted meta-experience (the first `shown`),
 * or, when none was accepted, a plain line saying so and the audit of one rejected; then status and report.
 */
export function lookDeeperCommands(runId: string, rows: ExperienceRow[], shown = 3): string[] {
  const accepted = rows.filter((row) => row.verdict?.accepted);
  const rejected = rows.find((row) => row.verdict && !row.verdict.accepted);
  const lines = accepted.slice(0, shown).map((row) => `${MEL_COMMAND} audit ${row.id}`);
  if (accepted.length > shown) {
    lines.push(
      `${MEL_COMMAND} experiences ${runId} --accepted    # the other ${accepted.length - shown} accepted`,
    );
  }
  if (accepted.length === 0) {
    lines.push(
      rows.length === 0
        ? 'No meta-experience was proposed in this run (no group had both a right and a wrong answer).'
        : `No meta-experience was accepted in this run (0 of ${rows.length} candidates).`,
    );
    if (rejected) lines.push(`${MEL_COMMAND} audit ${rejected.id}    # why this one was rejected`);
  }
  return [...lines, `${MEL_COMMAND} status ${runId}`, `${MEL_COMMAND} report ${runId}`];
}

interface ExperiencesOptions extends OutputOptions {
  step?: number;
  accepted?: boolean;
  rejected?: boolean;
}

export function registerExperienceCommands(program: Command): void {
  program
    .command('experiences')
    .description('list the meta-experiences of a run with their verdicts and reasons')
    .argument('<run>', 'run id')
    .option('--step <n>', 'only this step', parseStepOption)
    .option('--accepted', 'only accepted ones')
    .option('--rejected', 'only rejected ones')
    .option('--json', 'print JSON')
    .action(
      withContext(async (context, runId: string, options: ExperiencesOptions) => {
        if (options.accepted && options.rejected)
          throw new CliError('choose --accepted or --rejected, not both');
        const verdict: VerdictFilter | undefined = options.accepted
          ? 'accepted'
          : options.rejected
            ? 'rejected'
            : undefined;
        const docs = await listMetaExperiences(await context.db(), runId, { step: options.step, verdict });
        emit(options, docs.map(experienceRow), renderExperiences);
      }),
    );

  program
    .command('audit')
    .description(
      'the evidence chain of one meta-experience: question, trajectories (s* marked), critique, heuristics, ' +
        'leakage check, validation replay, decision, internalization, Temporal ids and links',
    )
    .argument('<id>', 'meta-experience id, as `mel experiences` lists it')
    .option('--json', 'print JSON')
    .action(
      withContext(async (context, id: string, options: OutputOptions) => {
        const evidence = await loadAuditEvidence(await context.db(), id);
        if (!evidence)
          throw new CliError(`no meta-experience ${id}: list them with \`mel experiences <run>\``);
        emit(options, assembleAudit(evidence, linksOf(context)), renderAudit);
      }),
    );
}
