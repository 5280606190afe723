/** The smoke family: `smokeWorkflow`, one activity that touches Temporal, a worker, MongoDB and the engine. */

export interface SmokeInput {
  /** Business key of this smoke run; documents are keyed by it so a retried activity overwrites, never adds. */
  smokeId: string;
  promptText: string;
  maxTokens: number;
}

/**
 * A pointer to a MongoDB document. Only the smoke probe returns one (the record it wrote); the MEL activities
 * return counts and summaries, and their documents are found by business key (run, step, prompt, sample).
 */
export interface DocRef {
  collection: string;
  id: string;
}

export interface SmokeResult {
  record: DocRef;
  modelId: string;
  sampledTokenCount: number;
}
