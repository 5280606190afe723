// Plain, JSON-serialisable data shared by the MEL algorithm, the workflows and the activities.

/** One math problem with its exact ground-truth answer. */
export interface Problem {
  id: string;
  question: string;
  answer: string;
}

/** A chat message in the OpenAI/HF role convention. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One sampled solution of a problem (one member y_i of a rollout group). */
export interface Trajectory {
  problemId: string;
  /** Position of this sample inside its group (0..G-1). */
  sampleIndex: number;
  text: string;
  /** Sampled token ids, verbatim from the sampler (including the stop token if one was produced). */
  tokens: number[];
  /** Sampler log-probabilities, one per sampled token. */
  logprobs: number[];
  /** Verifiable reward r_i in {0, 1} (paper Eq. 1). */
  reward: number;
}

/** A (correct, incorrect) trajectory pair of one group, by sample index (paper §3.2, P_x). */
export interface ContrastivePair {
  positiveIndex: number;
  negativeIndex: number;
}

/** M = (s*, C, H) plus the first-person reflective summary (paper Eq. 5 and Appendix C). */
export interface MetaExperience {
  /** s*: where the incorrect solution went astray (Eq. 2). */
  bifurcationPoint: string;
  /** C: error attribution, strategic gap and corrective principle (Eq. 3). */
  critique: string;
  /** H: abstract, problem-agnostic heuristics (Eq. 4). */
  heuristics: string[];
  reflectiveSummary: string;
  /** The generated text the fields were parsed from (for chained mode, the three outputs joined). */
  rawText: string;
}

export type MetaExperienceParse =
  { ok: true; metaExperience: MetaExperience } | { ok: false; reason: string; rawText: string };

// ---- Tinker datum wire format (pre-shifted: position i of model_input predicts target_tokens[i]) ----

export interface EncodedTextChunk {
  type: 'encoded_text';
  tokens: number[];
}

export interface ModelInput {
  chunks: EncodedTextChunk[];
}

export interface Int64Tensor {
  data: number[];
  dtype: 'int64';
}

export interface Float32Tensor {
  data: number[];
  dtype: 'float32';
}

export interface LossFnInputs {
  target_tokens: Int64Tensor;
  weights?: Float32Tensor;
  logprobs?: Float32Tensor;
  advantages?: Float32Tensor;
}

export interface Datum {
  model_input: ModelInput;
  loss_fn_inputs: LossFnInputs;
}
