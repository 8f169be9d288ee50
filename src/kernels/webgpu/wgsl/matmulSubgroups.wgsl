// The matmul entry point for devices with the `subgroups` feature, appended to matmul.wgsl behind `enable subgroups;`
// (shaderSource.ts: alone it does not compile). Same strided partial sums; subgroupAdd reduces each subgroup in
// registers, then one barrier and a sum over workgroup memory replace matmul.wgsl's six-barrier tree. The subgroup size
// (4..128) and which invocations share a subgroup are up to the device, so each subgroup's first invocation stores
// its sum in its own slot and the others store 0: the result does not depend on the layout.

@compute @workgroup_size(64)
fn mainSubgroups(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sid: u32) {
  let r = wg.x + wg.y * p.rowSplit;
  let i = wg.z;
  // Called by every invocation (subgroupAdd needs uniform control flow); partialDot is 0 past the last row.
  let s = subgroupAdd(partialDot(r, i, lid));
  partial[lid] = select(0.0, s, sid == 0u);
  workgroupBarrier();
  if (lid == 0u && r < p.rows) {
    var total = 0.0;
    for (var k = 0u; k < 64u; k++) { total += partial[k]; }
    out[i * p.outStride + p.outRow0 + r] = total;
  }
}
