import { describe, expect, it } from 'vitest';
import { evalProgressLine, renderEval, type EvalReport } from '../../../cli/eval-command.js';

const report: EvalReport = {
  evalId: 'demo-eval-1',
  workflowId: 'mel-eval/demo-eval-1',
  workflowRunId: 'run-1',
  target: { kind: 'run', runId: 'demo', step: 2, statePath: 'tinker://m/weights/demo-step-2' },
  data: { path: '/data/held-out.jsonl', sha256: 'ab'.repeat(32) },
  settings: { k: 4, temperature: 1, maxTokens: 96, limit: null, seed: 0 },
  metrics: {
    k: 4,
    problems: 20,
    greedySamples: 20,
    sampledSamples: 80,
    pass1: 0.35,
    avgK: 0.3,
    passK: 0.55,
  },
  truncated: 3,
  completedAt: '2026-01-01T00:00:00.000Z',
  stored: false,
  url: 'http://ui/history',
};

describe('mel eval output', () => {
  it('shows the policy, the data, the sampling and a table of the metrics', () => {
    const text = renderEval(report);
    expect(text).toContain('policy:      tinker://m/weights/demo-step-2 (policy of run demo after step 2)');
    expect(text).toContain('/data/held-out.jsonl (sha256 abababababab), 20 problems');
    expect(text).toContain('1 greedy + 4 at temperature 1, max 96 tokens, seed 0; 3 answer(s) hit the limit');
    expect(text).toContain('temporal ui: http://ui/history');
    expect(text).toMatch(/PASS@1 +AVG@4 +PASS@4 +PROBLEMS +SAMPLES\n35\.0% +30\.0% +55\.0% +20 +100$/);
    expect(renderEval({ ...report, stored: true })).toContain('demo-eval-1 (stored result');
    expect(renderEval({ ...report, target: { ...report.target, step: null } })).toContain(
      'initial policy of run demo',
    );
  });

  it('reaches 100% only when the eval has completed', () => {
    const progress = { evalId: 'e', problems: 4, problemsSampled: 4, problemsScored: 4 };
    expect(evalProgressLine({ ...progress, phase: 'sampling' })).toContain(
      ']  88%  sampling: 4/4 problems sampled, 4 scored',
    );
    expect(evalProgressLine({ ...progress, phase: 'completed' })).toContain('100%  completed');
    expect(evalProgressLine({ ...progress, phase: 'preparing', problems: 0 })).toContain('   0%  preparing');
  });
});
