// The plan (hence the exact file size) of every GGUF type an export form can write, or why it cannot: what the
// "Export to GGUF..." type picker and the deployment plan show. One planGgufExport / planLoraAdapterGguf per type.

import { errorTextFields, type HasText } from '../text';
import type { FsPort } from '../ports';
import type { BinHeaderReader } from '../safetensors/modelWeights';
import { planLoraAdapterGguf } from './adapterExport';
import { planGgufExport, type GgufExportPlan } from './export';
import { EXPORT_TYPES, type ExportType } from './format';

/** An export form: a full model (no adapterPath), an adapter merged into modelPath, or the adapter alone. */
export interface GgufForm {
  readonly modelPath: string;
  readonly adapterPath?: string;
  readonly adapterOnly?: boolean;
}

export interface GgufTypePlan {
  readonly type: ExportType;
  /** Null when this type cannot be written; `error` says why. */
  readonly plan: GgufExportPlan | null;
  readonly error: HasText | null;
}

/** The types a form can be asked for: a llama.cpp LoRA adapter is written in f16 or f32 only. */
export function ggufTypesOf(form: GgufForm): readonly ExportType[] {
  return form.adapterOnly ? ['f16', 'f32'] : EXPORT_TYPES;
}

async function planOne(fs: FsPort, form: GgufForm, type: ExportType, binReader: BinHeaderReader): Promise<GgufExportPlan> {
  if (form.adapterOnly && form.adapterPath) return planLoraAdapterGguf(fs, form.adapterPath, form.modelPath, type as 'f16' | 'f32', binReader);
  return planGgufExport(fs, { modelPath: form.modelPath, adapterPath: form.adapterPath, type }, binReader);
}

/** Every type of the form with its plan, in EXPORT_TYPES order; a type that fails carries its error instead. */
export async function planGgufTypes(fs: FsPort, form: GgufForm, binReader: BinHeaderReader): Promise<GgufTypePlan[]> {
  return Promise.all(ggufTypesOf(form).map(async (type): Promise<GgufTypePlan> => {
    try {
      return { type, plan: await planOne(fs, form, type, binReader), error: null };
    } catch (e) {
      return { type, plan: null, error: errorTextFields(e) };
    }
  }));
}

/** Bytes of tensor data in a planned file: what llama.cpp maps into memory for the weights. */
export function ggufTensorBytes(plan: GgufExportPlan): number {
  return plan.layout.sizes.reduce((s, n) => s + n, 0);
}
