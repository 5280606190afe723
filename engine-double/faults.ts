import { z } from 'zod';

// Fault rules: on a route's n-th call (or every n-th, or every call), do something other than answer normally.
// Counting is per rule, from the moment the rule was installed. Routes are the API path after /api/v1/
// ("asample", "retrieve_future", "optim_step", ...) or "*".

export const FaultActionSchema = z.discriminatedUnion('type', [
  /** Wait, then handle the call normally. */
  z.object({ type: z.literal('delay'), ms: z.number().int().nonnegative() }),
  /** Never answer (the call is not applied). */
  z.object({ type: z.literal('hang') }),
  /** Apply the call, then close the connection without an answer. */
  z.object({ type: z.literal('drop-response') }),
  /** Answer with this status without applying the call. */
  z.object({ type: z.literal('http-status'), status: z.number().int().min(400).max(599).default(503) }),
  /** asample: the future's sequences hold random token ids. */
  z.object({ type: z.literal('garbage-sample') }),
  /** asample: the future's sequences have "logprobs": null. */
  z.object({ type: z.literal('logprobs-null') }),
  /** asample: the future has one sequence fewer than asked for (one more when one was asked for). */
  z.object({ type: z.literal('wrong-sample-count') }),
  /** asample: the future has one sequence more than asked for. */
  z.object({ type: z.literal('extra-sample') }),
  /** asample: the future's first sequence has no tokens (and no logprobs). */
  z.object({ type: z.literal('empty-sample') }),
]);

export const FaultRuleSchema = z
  .object({
    route: z.string().min(1),
    /** Fire on the call-th matching call only (1-based). */
    call: z.number().int().positive().optional(),
    /** Fire on every every-th matching call. */
    every: z.number().int().positive().optional(),
    action: FaultActionSchema,
  })
  .refine((rule) => rule.call === undefined || rule.every === undefined, 'give call or every, not both');

export type FaultAction = z.infer<typeof FaultActionSchema>;
export type FaultRule = z.infer<typeof FaultRuleSchema>;

export const SAMPLE_TRANSFORMS = [
  'garbage-sample',
  'logprobs-null',
  'wrong-sample-count',
  'extra-sample',
  'empty-sample',
] as const;

interface InstalledRule {
  rule: FaultRule;
  seen: number;
  fired: number;
}

export function ruleFires(rule: FaultRule, nthCall: number): boolean {
  if (rule.call !== undefined) return nthCall === rule.call;
  if (rule.every !== undefined) return nthCall % rule.every === 0;
  return true;
}

export class FaultInjector {
  private rules: InstalledRule[] = [];

  constructor(initial: readonly FaultRule[] = []) {
    this.install(initial, true);
  }

  install(rules: readonly FaultRule[], replace: boolean): void {
    const added = rules.map((rule) => ({ rule, seen: 0, fired: 0 }));
    this.rules = replace ? added : [...this.rules, ...added];
  }

  /** Counts the call against every rule for its route; returns the actions that fire, in rule order. */
  onCall(route: string): FaultAction[] {
    const actions: FaultAction[] = [];
    for (const installed of this.rules) {
      if (installed.rule.route !== route && installed.rule.route !== '*') continue;
      installed.seen++;
      if (!ruleFires(installed.rule, installed.seen)) continue;
      installed.fired++;
      actions.push(installed.rule.action);
    }
    return actions;
  }

  list(): { rule: FaultRule; seen: number; fired: number }[] {
    return this.rules.map((installed) => ({ ...installed }));
  }
}
