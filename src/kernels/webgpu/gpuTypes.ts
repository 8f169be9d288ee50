// The slice of the WebGPU API this backend uses, typed locally: `webgpu` (and its @webgpu/types) is an optional
// dependency, so the project must type-check without it.

export interface GpuBuffer {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
export interface GpuBindGroupLayout { readonly label?: string }
export interface GpuComputePipeline { getBindGroupLayout(index: number): GpuBindGroupLayout }
export interface GpuBindGroupEntry { binding: number; resource: { buffer: GpuBuffer } }
export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
export interface GpuCommandEncoder {
  beginComputePass(): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  finish(): unknown;
}
export interface GpuCompilationMessage { readonly type: string; readonly message: string; readonly lineNum: number }
export interface GpuShaderModule { getCompilationInfo(): Promise<{ readonly messages: readonly GpuCompilationMessage[] }> }
export interface GpuDevice {
  readonly queue: {
    writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView): void;
    submit(buffers: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
  createBuffer(d: { size: number; usage: number; label?: string }): GpuBuffer;
  createShaderModule(d: { code: string; label?: string }): GpuShaderModule;
  createComputePipeline(d: { layout: 'auto'; compute: { module: GpuShaderModule; entryPoint: string }; label?: string }): GpuComputePipeline;
  createComputePipelineAsync(d: { layout: 'auto'; compute: { module: GpuShaderModule; entryPoint: string }; label?: string }): Promise<GpuComputePipeline>;
  createBindGroup(d: { layout: GpuBindGroupLayout; entries: GpuBindGroupEntry[] }): unknown;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<{ readonly message: string } | null>;
  destroy(): void;
  /** The features the device was opened with (absent in minimal fakes: none). */
  readonly features?: { has(name: string): boolean };
  /** Resolves when the device is lost: destroy(), a driver reset, a GPU removed or hung. */
  readonly lost?: Promise<{ readonly reason?: string; readonly message?: string }>;
}
export interface GpuAdapterInfo { readonly vendor?: string; readonly architecture?: string; readonly device?: string; readonly description?: string }
export interface GpuAdapter {
  readonly info?: GpuAdapterInfo;
  readonly isFallbackAdapter?: boolean;
  readonly features?: { has(name: string): boolean };
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  requestDevice(d?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[] }): Promise<GpuDevice>;
}
export interface Gpu { requestAdapter(o?: { powerPreference?: string }): Promise<GpuAdapter | null> }
export interface DawnModule { create(flags: string[]): Gpu; globals: object }
