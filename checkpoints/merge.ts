/**
 * Merges a LoRA adapter (a sampler checkpoint's archive or its unpacked folder) into its base model and writes a
 * complete Hugging Face model folder (checkpoints/python/merge_lora.py, peft on CPU): what `mel export` writes, and
 * what the tiny model's warm start makes the engine's next base model from.
 */
import { fileURLToPath } from 'node:url';
import { OFFLINE_ENV, runPythonScript } from '../common/python-script.js';

export const MERGE_LORA_SCRIPT = fileURLToPath(new URL('python/merge_lora.py', import.meta.url));

export async function mergeLora(args: {
  python: string;
  baseModelDir: string;
  /** The archive (tar.gz) or the folder holding adapter_model.safetensors and adapter_config.json. */
  adapter: string;
  outDir: string;
}): Promise<void> {
  await runPythonScript(
    args.python,
    MERGE_LORA_SCRIPT,
    ['--base-model', args.baseModelDir, '--adapter', args.adapter, '--out', args.outDir],
    undefined,
    { env: OFFLINE_ENV },
  );
}
