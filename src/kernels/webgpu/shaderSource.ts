// Shaders whose source is put together from several .wgsl files. Kept free of .wgsl imports so the WGSL compile lint
// (kernelsWebgpu.test.ts) composes exactly what the backend compiles.

/** WGSL for the subgroup matmul: matmul.wgsl (bindings, weight decode, partialDot) plus its subgroup entry point. */
export function subgroupMatmulSource(matmulWgsl: string, matmulSubgroupsWgsl: string): string {
  return `enable subgroups;\n${matmulWgsl}\n${matmulSubgroupsWgsl}`;
}

/** .wgsl files that are not shaders by themselves: the base each is appended to and how they combine. */
export const COMPOSED_WGSL: Readonly<Record<string, { base: string; compose: (base: string, part: string) => string; feature: string; entryPoint: string }>> = {
  'matmulSubgroups.wgsl': { base: 'matmul.wgsl', compose: subgroupMatmulSource, feature: 'subgroups', entryPoint: 'mainSubgroups' },
};
