// Minimal protobuf wire-format reader: just enough to walk sentencepiece's ModelProto (varint, fixed32/64, bytes).
// Reference: protobuf encoding spec (developers' "Encoding" page); unknown fields are skipped, never rejected.

import { CoreError } from '../errors';

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

export interface Field {
  readonly num: number;
  readonly wire: WireType;
  /** Varint value (as a JS number: the fields we read fit in 53 bits) or fixed32 raw bits. */
  readonly int: number;
  /** Payload of a length-delimited field (a view, not a copy). */
  readonly bytes: Uint8Array | null;
}

/** Iterates the fields of one message. Throws CoreError('bad-format') on truncated or malformed input. */
export function* readFields(buf: Uint8Array, what: string): Generator<Field> {
  let pos = 0;
  const fail = (why: string): never => {
    throw new CoreError('bad-format', `${what}: not a valid protobuf message (${why} at byte ${pos}).`);
  };
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) fail('truncated varint');
      const b = buf[pos++]!;
      // Multiplication rather than shifts: bit ops would truncate to 32 bits.
      if (i < 8) result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
    return fail('varint longer than 10 bytes');
  };
  while (pos < buf.length) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = (key & 7) as WireType;
    if (num === 0) fail('field number 0');
    switch (wire) {
      case WireType.Varint:
        yield { num, wire, int: varint(), bytes: null };
        break;
      case WireType.Fixed64:
        if (pos + 8 > buf.length) fail('truncated fixed64');
        pos += 8;
        break;
      case WireType.Fixed32: {
        if (pos + 4 > buf.length) fail('truncated fixed32');
        const v = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
        pos += 4;
        yield { num, wire, int: v, bytes: null };
        break;
      }
      case WireType.Bytes: {
        const len = varint();
        if (pos + len > buf.length) fail('truncated length-delimited field');
        const bytes = buf.subarray(pos, pos + len);
        pos += len;
        yield { num, wire, int: len, bytes };
        break;
      }
      default:
        fail(`unsupported wire type ${wire as number}`);
    }
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Reinterpret fixed32 bits as an IEEE float. */
export function fixed32ToFloat(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function decodeString(bytes: Uint8Array | null): string {
  return bytes ? utf8.decode(bytes) : '';
}
