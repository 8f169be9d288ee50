import { strict as assert } from 'node:assert';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/core/tensor/dtype';

describe('dtype conversion', () => {
  it('round-trips every finite f16 exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 31) continue;
      assert.equal(f32ToF16(f16ToF32(h)), h, `h=${h.toString(16)}`);
    }
  });
  it('rounds f32 -> f16 to nearest even on ties, including subnormals and overflow', () => {
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie -> even (down)
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
    assert.equal(f32ToF16(2 ** -25), 0x0000); // half of smallest subnormal: tie -> 0
    assert.equal(f32ToF16(3 * 2 ** -25), 0x0002); // 1.5 ulp -> 2
    assert.equal(f32ToF16(65520), 0x7c00); // rounds to inf
    assert.equal(f32ToF16(65519), 0x7bff);
    assert.equal(f32ToF16(-0), 0x8000);
    assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  });
  it('rounds f32 -> bf16 to nearest even', () => {
    assert.equal(f32ToBf16(1), 0x3f80);
    assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie -> even
    assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(bf16ToF32(0x3f80), 1);
    assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
  });
});
