import { NO_LATENCY, type LatencyOptions } from './latency.js';

// Named latency profiles, calibrated to published measurements of real GPU engines. Every number names its source
// (the SOURCES list below) and shows its arithmetic; where nothing was published, the assumption is spelled out.
// The double's model is simple (one decode speed per sequence whatever the batch size, fixed per-call costs), so
// each number is taken in the regime an RL run lives in: a full batch of rollouts.

const SOURCES = {
  lambdaVllm: 'https://github.com/LambdaLabsML/vllm-benchmark/blob/main/benchmark_v0.md',
  gpustackQwen3:
    'https://github.com/gpustack/gpustack/blob/main/docs/performance-lab/qwen3-8b/h100-latency.md',
  vllmRelease042: 'https://github.com/vllm-project/vllm/pull/4600',
  nemoFinetuning: 'https://github.com/NVIDIA/NeMo/blob/main/docs/source/performance/performance_summary.md',
  nemoAutomodelLora: 'https://github.com/NVIDIA-NeMo/Automodel/blob/main/docs/performance-summary.md',
  loraxAdapterLoad: 'https://github.com/predibase/lorax/issues/433',
} as const;

/**
 * An 8B dense model (Llama-3.1-8B / Qwen3-8B class, bf16) sampled by vLLM on one H100 80GB SXM, and a LoRA trainer
 * for it on the same kind of GPU.
 */
const H100_8B: LatencyOptions = {
  // lambdaVllm: Llama 3.1 8B, tp=1, vLLM v0.6.0 with --num-scheduler-steps 10, max-num-seqs 256, 5,000 ShareGPT
  // prompts at rps=inf: 8,088 output tok/s, median TPOT 25.57 ms ⇒ 1000 / 25.57 ≈ 39 tok/s per sequence. (Check:
  // 8,088 / 256 ≈ 32 tok/s per slot, lower because slots also prefill and the batch is not always full.) The GPU is
  // the report's 1×H100-80GB-SXM: the table's v0.5.4 row (3,032 tok/s) matches its 1×H100 figure (3,400 tok/s),
  // not its 1×A100 one (1,518 tok/s). At low batch a sequence decodes ~3.5× faster (gpustackQwen3: Qwen3-8B on one
  // H100 SXM, vLLM 0.11, 4 concurrent requests: TPOT 7.4 ms ≈ 135 tok/s); the double does not model that.
  tokensPerSecondPerSequence: 39,
  // The max-num-seqs under which the decode speed above was measured (lambdaVllm).
  maxConcurrentSequences: 256,
  // vllmRelease042: H100, Llama-3-8B-Instruct, benchmark_throughput with 1,000 prompt and 100 output tokens:
  // 20.72 req/s ⇒ 20,720 prompt tok/s ⇒ at most 0.048 ms per prompt token. Decoding took part of that time:
  // 2,072 output tok/s / (256 slots × 39 tok/s) ≈ 21 % ⇒ 0.048 × 0.79 ≈ 0.038 ⇒ 0.04 ms. (Roofline check: 2 × 8e9
  // FLOP per token at half the H100's 989 bf16 TFLOP/s ⇒ 0.032 ms.) The decode speed above was measured under
  // load, so it already contains the other sequences' interleaved prefills; this is one request's own prefill.
  prefillMsPerPromptToken: 0.04,
  // LoRA forward + backward ≈ 4 × parameters FLOP per token (2N forward, 2N for activation gradients, none for the
  // frozen weights): nemoFinetuning (NeMo 24.07, DGX-H100, LLAMA2-7B LoRA, FP8) runs 673 TFLOP/s at 25,206 tok/s
  // per GPU ⇒ 26.7 GFLOP per token ≈ 4 × 6.7e9. For 8B: 4 × 8.0e9 = 32 GFLOP per token ⇒ 0.048 ms at those
  // 673 TFLOP/s (Megatron, FP8: the best case), 0.18 ms at the 176 TFLOP/s of nemoAutomodelLora (PyTorch backend,
  // BF16, Llama3 70B LoRA on H100s). Assumption: a BF16 trainer in between, at 320 TFLOP/s (32 % of peak)
  // ⇒ 32e9 / 320e12 = 0.1 ms per trained token.
  msPerTrainedToken: 0.1,
  // No published figure found. Assumption: rank-32 LoRA on every linear layer of Llama-3-8B has
  // 32 layers × 32 × (8,192 + 5,120 + 5,120 + 8,192 + 3 × 18,432) ≈ 84M parameters; AdamW moves ~28 bytes per
  // parameter (fp32 weight, gradient and two moments read; weight and moments written) ≈ 2.3 GB ⇒ < 1 ms at
  // 3.35 TB/s, so the step is launch and host overhead: 20 ms.
  optimStepMs: 20,
  // No published figure found for creating a LoRA training state. Assumption: it costs what loading one does.
  createMs: 1000,
  // loraxAdapterLoad: moving an adapter to the GPU takes ~20 ms per layer, "500ms ~ 1+s latency overall"; a training
  // state also carries optimizer moments ⇒ the upper end, 1,000 ms.
  loadMs: 1000,
  // No published figure found. Assumption: a training state is 84M × 12 B (fp32 weights and two moments) ≈ 1.0 GB,
  // written at ~1 GB/s ⇒ 1,000 ms. Sampler saves (weights only) are smaller; the double charges both the same.
  saveMs: 1000,
};

export const LATENCY_PROFILES = {
  /** Instant engine, no slot limit (the default). */
  zero: NO_LATENCY,
  'h100-8b': H100_8B,
} as const satisfies Record<string, LatencyOptions>;

export type LatencyProfileName = keyof typeof LATENCY_PROFILES;

export const LATENCY_PROFILE_NAMES = Object.keys(LATENCY_PROFILES) as [
  LatencyProfileName,
  ...LatencyProfileName[],
];

/** Where each profile's numbers come from (see the comments above for the arithmetic). */
export const LATENCY_PROFILE_SOURCES: Record<LatencyProfileName, readonly string[]> = {
  zero: [],
  'h100-8b': Object.values(SOURCES),
};
