// merge_manifest.json: provenance of a merged model (inputs as given and resolved, content hashes, the PEFT config,
// settings, tool version, what happened to every tensor), so a merged folder can always be traced back.

import { basename, relativePath } from '../paths';
import type { FileDigest } from './inputReader';
import type { MergePlan } from './plan';

export const MANIFEST_FILE = 'merge_manifest.json';
export const MANIFEST_VERSION = 1;

export interface ManifestExtras {
  readonly inputDigests: readonly FileDigest[];
  readonly verified: boolean;
  readonly toolVersion: string;
  readonly settings: Readonly<Record<string, unknown>>;
}

export function buildManifest(plan: MergePlan, extras: ManifestExtras): Record<string, unknown> {
  const digestsUnder = (folder: string): Array<Record<string, unknown>> =>
    extras.inputDigests
      .filter((d) => d.path.startsWith(folder + '/'))
      .map((d) => ({ file: relativePath(folder, d.path), size: d.size, xxh32: d.xxh32 }))
      .sort((a, b) => (String(a.file) < String(b.file) ? -1 : 1));
  const { inputs } = plan;
  return {
    manifestVersion: MANIFEST_VERSION,
    tool: { name: 'lora-workbench', version: extras.toolVersion },
    createdAt: new Date().toISOString(),
    hashAlgorithm: 'xxh32 (xxHash 32-bit, seed 0, whole file, hex)',
    base: { given: inputs.baseGiven, resolved: inputs.basePath, layout: plan.base.layout, files: digestsUnder(inputs.basePath) },
    adapter: {
      given: inputs.adapterGiven, resolved: inputs.adapterPath, weights: basename(plan.adapter.file), variant: plan.variant,
      files: digestsUnder(inputs.adapterPath),
    },
    peftConfig: plan.peft.raw,
    settings: {
      dtype: inputs.dtype ?? 'auto', outputDtype: plan.outDtype, shardSize: inputs.shardSize ?? null, verified: extras.verified,
      tokenizerFrom: plan.tokenizerFrom, ...extras.settings,
    },
    output: { shards: plan.shards.map((s) => ({ file: s.file, bytes: s.size, tensors: s.tensors.length })) },
    warnings: plan.warnings,
    tensors: plan.tensors.map((t) => {
      const op = t.op;
      const base = { name: t.name, dtype: t.dtype, shape: t.shape, op: op.kind, from: op.src.dtype };
      switch (op.kind) {
        case 'lora':
          return { ...base, module: op.module, layout: op.layout, r: op.r, alpha: op.alpha, scaling: op.scaling, dora: op.magnitude !== null };
        case 'loraBias':
          return { ...base, module: op.module, scaling: op.scaling };
        case 'replace':
          return { ...base, source: 'adapter', resizedFrom: op.replaced && op.replaced.shape[0] !== t.shape[0] ? op.replaced.shape : undefined };
        default:
          return base;
      }
    }),
  };
}
