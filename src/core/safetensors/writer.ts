// safetensors output: shard planning (transformers' greedy split by --shard-size), header encoding, a sequential shard
// writer that checks every byte it is given against the plan, and model.safetensors.index.json.
// Reference: huggingface/safetensors format; huggingface_hub split_torch_state_dict_into_shards (greedy, in order).

import { CoreError } from '../errors';
import type { ByteSink } from '../ports';
import { DTYPE_BYTES, numel, type DType } from '../tensor/dtype';
import { tr } from '../text';

export interface OutTensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface ShardPlan<T extends OutTensorSpec = OutTensorSpec> {
  /** File name inside the output folder. */
  readonly file: string;
  readonly tensors: readonly T[];
  /** 8-byte length prefix + JSON header padded with spaces to a multiple of 8 (as the safetensors library does). */
  readonly header: Uint8Array;
  /** Whole file size in bytes. */
  readonly size: number;
  /** Sum of tensor bytes. */
  readonly dataBytes: number;
}

export function tensorBytes(t: OutTensorSpec): number {
  return numel(t.shape) * DTYPE_BYTES[t.dtype];
}

export function shardFileName(index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0');
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/** Header bytes (length prefix included) for tensors laid out back to back in the given order. */
export function encodeSafetensorsHeader(tensors: readonly OutTensorSpec[], metadata: Readonly<Record<string, string>>): Uint8Array {
  const obj: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = tensorBytes(t);
    if (Object.prototype.hasOwnProperty.call(obj, t.name)) throw new CoreError('internal', tr`tensor '${t.name}' planned twice in one shard`);
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded % 2 ** 32, true);
  dv.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length);
  return out;
}

/**
 * Split tensors, in the order given, into shards of at most `maxShardBytes` of tensor data; a tensor larger than the
 * limit gets a shard of its own (as transformers does). Always returns at least one shard.
 */
export function planShards<T extends OutTensorSpec>(tensors: readonly T[], maxShardBytes: number, metadata: Readonly<Record<string, string>>): ShardPlan<T>[] {
  if (!(maxShardBytes > 0)) throw new CoreError('usage', tr`shard size must be positive (got ${maxShardBytes}).`);
  const groups: T[][] = [[]];
  let current = 0;
  for (const t of tensors) {
    const n = tensorBytes(t);
    const group = groups[groups.length - 1]!;
    if (group.length > 0 && current + n > maxShardBytes) {
      groups.push([t]);
      current = n;
    } else {
      group.push(t);
      current += n;
    }
  }
  return groups.map((group, i) => {
    const header = encodeSafetensorsHeader(group, metadata);
    const dataBytes = group.reduce((s, t) => s + tensorBytes(t), 0);
    return { file: shardFileName(i, groups.length), tensors: group, header, size: header.length + dataBytes, dataBytes };
  });
}

/** model.safetensors.index.json text: metadata.total_size (tensor bytes) and a name-sorted weight_map. */
export function buildShardIndex(shards: readonly ShardPlan[], extraMetadata: Readonly<Record<string, unknown>> = {}): string {
  const entries: Array<[string, string]> = [];
  let total = 0;
  for (const s of shards) {
    total += s.dataBytes;
    for (const t of s.tensors) entries.push([t.name, s.file]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify({ metadata: { ...extraMetadata, total_size: total }, weight_map: Object.fromEntries(entries) }, null, 2) + '\n';
}

/**
 * Writes one planned shard sequentially: the header, then each tensor's bytes in plan order (in as many chunks as the
 * caller likes). Refuses bytes that do not fit the plan, so a bug can never produce a file whose header lies.
 */
export class ShardWriter {
  private tensorIndex = 0;
  private writtenInTensor = 0;
  private started = false;
  bytesWritten = 0;

  constructor(private readonly sink: ByteSink, readonly plan: ShardPlan) {}

  /** The tensor the next bytes belong to, or null when the shard is complete. */
  get current(): OutTensorSpec | null {
    return this.plan.tensors[this.tensorIndex] ?? null;
  }

  async writeHeader(): Promise<void> {
    if (this.started) throw new CoreError('internal', tr`${this.sink.path}: header written twice`);
    this.started = true;
    await this.sink.write(this.plan.header);
    this.bytesWritten += this.plan.header.length;
    while (this.current && tensorBytes(this.current) === 0) this.tensorIndex++;
  }

  /**
   * Append bytes of tensor `name`; they must continue the current tensor and not run past its end. The bookkeeping is
   * done before the sink's write starts, so the next write may be issued before this one settles (write-behind); `data`
   * must stay untouched until it does.
   */
  write(name: string, data: Uint8Array): Promise<void> {
    const t = this.current;
    if (!this.started || !t || t.name !== name) {
      return Promise.reject(new CoreError('internal', tr`${this.sink.path}: bytes for '${name}' arrived out of plan order (expected '${t?.name ?? '(end)'}')`));
    }
    const need = tensorBytes(t);
    if (this.writtenInTensor + data.length > need) {
      return Promise.reject(new CoreError('internal', tr`${this.sink.path}: '${name}' got ${this.writtenInTensor + data.length} bytes, planned ${need}`));
    }
    const written = data.length > 0 ? this.sink.write(data) : Promise.resolve();
    this.bytesWritten += data.length;
    this.writtenInTensor += data.length;
    if (this.writtenInTensor === need) {
      this.tensorIndex++;
      this.writtenInTensor = 0;
      // Zero-byte tensors that follow need no data: skip them so `current` points at real work.
      while (this.current && tensorBytes(this.current) === 0) this.tensorIndex++;
    }
    return written;
  }

  async close(): Promise<void> {
    if (this.current !== null || this.bytesWritten !== this.plan.size) {
      await this.sink.close();
      throw new CoreError('internal', tr`${this.sink.path}: closed after ${this.bytesWritten} of ${this.plan.size} bytes`);
    }
    await this.sink.close();
  }
}
