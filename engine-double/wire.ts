import { z } from 'zod';

// Request bodies of the Tinker routes, as SkyRL's pydantic models read them (extra keys are ignored, as there).

const tensor = z.looseObject({ data: z.array(z.number()) });

export const DatumSchema = z.looseObject({
  model_input: z.looseObject({
    chunks: z.array(z.looseObject({ tokens: z.array(z.number().int()).optional() })),
  }),
  loss_fn_inputs: z.looseObject({
    target_tokens: tensor.optional(),
    weights: tensor.optional(),
    logprobs: tensor.optional(),
    advantages: tensor.optional(),
  }),
});

/** The losses SkyRL's API accepts; the JAX backend implements the first four. */
export const API_LOSSES = [
  'cross_entropy',
  'importance_sampling',
  'ppo',
  'cispo',
  'gspo',
  'ppo_critic',
  'dppo',
] as const;
export const JAX_LOSSES = ['cross_entropy', 'importance_sampling', 'ppo', 'cispo'] as const;

const passInput = z.looseObject({
  data: z.array(DatumSchema),
  loss_fn: z.enum(API_LOSSES),
  loss_fn_config: z.record(z.string(), z.number()).nullish(),
});

const modelCall = { model_id: z.string(), seq_id: z.number().int().nullish() };

export const CreateSessionSchema = z.looseObject({
  tags: z.array(z.string()),
  user_metadata: z.record(z.string(), z.unknown()).nullish(),
  sdk_version: z.string(),
});

export const SessionSchema = z.looseObject({ session_id: z.string() });

export const CreateModelSchema = z.looseObject({
  session_id: z.string(),
  base_model: z.string(),
  lora_config: z.looseObject({
    rank: z.number().int(),
    seed: z.number().int().nullish(),
    train_attn: z.boolean().default(true),
    train_mlp: z.boolean().default(true),
    train_unembed: z.boolean().default(false),
  }),
});

export const ModelIdSchema = z.looseObject({ model_id: z.string() });

export const ForwardBackwardSchema = z.looseObject({ ...modelCall, forward_backward_input: passInput });
export const ForwardSchema = z.looseObject({ ...modelCall, forward_input: passInput });

export const OptimStepSchema = z.looseObject({
  ...modelCall,
  adam_params: z.looseObject({ learning_rate: z.number().default(1e-4) }),
});

const checkpointName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]+$/)
  .max(255);

export const SaveWeightsSchema = z.looseObject({ ...modelCall, path: checkpointName });

export const SaveForSamplerSchema = z.looseObject({
  ...modelCall,
  path: checkpointName.nullish(),
  sampling_session_seq_id: z.number().int().nullish(),
});

export const LoadWeightsSchema = z.looseObject({
  ...modelCall,
  path: z.string(),
  optimizer: z.boolean().default(true),
});

export const SampleSchema = z.looseObject({
  prompt: z.looseObject({ chunks: z.array(z.looseObject({ tokens: z.array(z.number().int()).optional() })) }),
  num_samples: z.number().int().positive().default(1),
  sampling_params: z.looseObject({
    max_tokens: z.number().int().positive(),
    temperature: z.number().nonnegative().default(1),
    seed: z.number().int().nullish(),
    stop: z.array(z.union([z.number().int(), z.string()])).nullish(),
  }),
  base_model: z.string().nullish(),
  model_path: z.string().nullish(),
  sampling_session_id: z.string().nullish(),
  seq_id: z.number().int().nullish(),
});

export const CreateSamplingSessionSchema = z.looseObject({
  session_id: z.string(),
  sampling_session_seq_id: z.number().int(),
  base_model: z.string().nullish(),
  model_path: z.string().nullish(),
});

export const RetrieveFutureSchema = z.looseObject({ request_id: z.string() });

export type SampleBody = z.infer<typeof SampleSchema>;
export type PassBody = z.infer<typeof passInput>;
