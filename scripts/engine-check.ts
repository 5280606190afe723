/**
 * `npx tsx scripts/engine-check.ts [--json]`: which engines are configured (policy and reflection), whether they
 * answer, which models they serve and what they support. Exits 1 when one does not answer or lacks its model.
 * API keys are reported as set or not set, never shown.
 */
import { parseArgs } from 'node:util';
import { resolveEndpoints } from '../common/env.js';
import { createPolicyEngine, reflectionEngineConfig } from '../engine/config.js';
import type { DescribableEngine, EngineDescription } from '../engine/engine.js';
import { OpenAICompatibleClient } from '../engine/openai-compatible.js';

interface EngineReport {
  role: 'policy' | 'reflection';
  kind: string;
  baseUrl?: string;
  apiKey?: string;
  answers: boolean;
  error?: string;
  description?: EngineDescription;
  modelServed?: boolean;
  note?: string;
}

async function checkEngine(
  target: Pick<EngineReport, 'role' | 'kind' | 'baseUrl'>,
  engine: DescribableEngine,
  apiKeyEnv: string,
): Promise<EngineReport> {
  const report = { ...target, apiKey: `${apiKeyEnv} ${process.env[apiKeyEnv] ? 'set' : 'not set'}` };
  try {
    const description = await engine.describe();
    const { configuredModel, servedModels } = description;
    const modelServed = configuredModel === undefined || servedModels.includes(configuredModel);
    return { ...report, answers: true, description, modelServed };
  } catch (error) {
    return { ...report, answers: false, error: error instanceof Error ? error.message : String(error) };
  }
}

async function checkAll(): Promise<EngineReport[]> {
  const endpoints = resolveEndpoints();
  const policy = createPolicyEngine(endpoints, process.env, { maxRetries: 0, requestTimeoutMs: 15_000 });
  const target = { role: 'policy', kind: 'tinker', baseUrl: endpoints.engineUrl } as const;
  const reports = [await checkEngine(target, policy, endpoints.engineApiKeyEnv)];
  const reflection = reflectionEngineConfig();
  if (reflection.kind === 'policy') {
    reports.push({
      role: 'reflection',
      kind: 'policy',
      answers: reports[0]!.answers,
      note: 'the policy answers reflection prompts itself',
    });
  } else {
    const client = new OpenAICompatibleClient({
      baseUrl: reflection.baseUrl,
      model: reflection.model,
      apiKey: process.env[reflection.apiKeyEnv],
      timeoutMs: 15_000,
      maxRetries: 0,
    });
    const target = { role: 'reflection', kind: reflection.kind, baseUrl: reflection.baseUrl } as const;
    reports.push(await checkEngine(target, client, reflection.apiKeyEnv));
  }
  return reports;
}

function printReport(report: EngineReport): void {
  const { description } = report;
  console.log(`${report.role} engine: ${report.kind}${report.baseUrl ? ` at ${report.baseUrl}` : ''}`);
  if (report.note) console.log(`  ${report.note}`);
  if (report.apiKey) console.log(`  API key: ${report.apiKey}`);
  if (report.error) console.log(`  answers: NO (${report.error})`);
  if (!description) return;
  console.log('  answers: yes');
  console.log(`  serves: ${description.servedModels.join(', ') || '(no model list)'}`);
  if (description.configuredModel !== undefined) {
    const served = report.modelServed ? 'served' : 'NOT SERVED';
    console.log(`  configured model: ${description.configuredModel} (${served})`);
  }
  const { supports } = description;
  const training = supports.training ? `training (losses: ${supports.losses.join(', ')})` : 'no training';
  const sampling = supports.tokenSampling ? 'token-level sampling with logprobs' : 'no token-level sampling';
  console.log(
    `  supports: ${training}; ${sampling}; ${supports.chat ? 'chat' : 'chat through the model tokenizer'}`,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
  const reports = await checkAll();
  if (values.json) console.log(JSON.stringify(reports, null, 2));
  else reports.forEach(printReport);
  return reports.every((report) => report.answers && report.modelServed !== false) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
