import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { DoubleError } from './errors.js';

// Saved training states (`tinker://<model>/weights/<name>`) and sampler weights (`tinker://<model>/<name>`, as
// SkyRL 0.3.0 names them; `tinker://<model>/sampler_weights/<name>` is accepted too). Kept in memory and, when a
// directory is given, as one JSON file each, so a restarted double can still load them.

export type CheckpointKind = 'training' | 'sampler';

export interface Checkpoint {
  path: string;
  kind: CheckpointKind;
  modelId: string;
  name: string;
  baseModel: string;
  rank: number;
  weightsVersion: number;
  /** Optimizer steps the weights have seen (carried by training states into the model that loads them). */
  optimizerSteps: number;
}

export interface TinkerPath {
  modelId: string;
  /** '' for `tinker://model/name`. */
  kind: '' | 'weights' | 'sampler_weights';
  name: string;
}

const TINKER_PATH = /^tinker:\/\/([A-Za-z0-9_-]+)\/(?:(weights|sampler_weights)\/)?([A-Za-z0-9_-]+)$/;

export function parseTinkerPath(text: string): TinkerPath | null {
  const match = TINKER_PATH.exec(text);
  if (!match) return null;
  const kind = (match[2] ?? '') as TinkerPath['kind'];
  return { modelId: match[1] ?? '', kind, name: match[3] ?? '' };
}

export function checkpointPath(kind: CheckpointKind, modelId: string, name: string): string {
  return kind === 'training' ? `tinker://${modelId}/weights/${name}` : `tinker://${modelId}/${name}`;
}

export class CheckpointStore {
  private readonly saved = new Map<string, Checkpoint>();

  constructor(private readonly dir?: string) {}

  private file(kind: CheckpointKind, modelId: string, name: string): string | undefined {
    return this.dir && path.join(this.dir, modelId, kind, `${name}.json`);
  }

  save(checkpoint: Checkpoint): void {
    this.saved.set(`${checkpoint.kind}:${checkpoint.modelId}/${checkpoint.name}`, checkpoint);
    const file = this.file(checkpoint.kind, checkpoint.modelId, checkpoint.name);
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(checkpoint));
  }

  find(kind: CheckpointKind, modelId: string, name: string): Checkpoint | undefined {
    const known = this.saved.get(`${kind}:${modelId}/${name}`);
    if (known) return known;
    const file = this.file(kind, modelId, name);
    if (!file || !existsSync(file)) return undefined;
    const loaded = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
    this.saved.set(`${kind}:${modelId}/${name}`, loaded);
    return loaded;
  }

  /** The checkpoint, or SkyRL's 404. */
  get(kind: CheckpointKind, modelId: string, name: string): Checkpoint {
    const checkpoint = this.find(kind, modelId, name);
    if (!checkpoint) throw new DoubleError(404, `Checkpoint not found: ${modelId}/${name}`);
    return checkpoint;
  }

  /** Forgets a checkpoint (its file too); false when there was none. */
  delete(kind: CheckpointKind, modelId: string, name: string): boolean {
    const existed = this.find(kind, modelId, name) !== undefined;
    this.saved.delete(`${kind}:${modelId}/${name}`);
    const file = this.file(kind, modelId, name);
    if (file) rmSync(file, { force: true });
    return existed;
  }

  get size(): number {
    return this.saved.size;
  }

  /**
   * How many doubles started on this directory before this one (counted in it; 0 without a directory). A restarted
   * double mixes it into its model ids, so that, like SkyRL's random ids, no id names two models of one store.
   */
  startIncarnation(): number {
    if (!this.dir) return 0;
    const file = path.join(this.dir, 'incarnations');
    const before = existsSync(file) ? Number(readFileSync(file, 'utf8')) || 0 : 0;
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(file, String(before + 1));
    return before;
  }
}
