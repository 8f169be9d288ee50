// A restricted pickle VM for torch.save state dicts: it understands only the opcodes and globals a tensor state dict
// needs (dict/OrderedDict of tensors rebuilt with torch._utils._rebuild_tensor_v2 over typed storages) and refuses any
// other global before anything could be called. Nothing is ever executed: "calls" build plain descriptive objects.
// Reference: CPython Lib/pickle.py (opcode table), torch/serialization.py (persistent_id, _load).

import { CoreError } from '../errors';
import type { DType } from '../tensor/dtype';
import { tr } from '../text';

/** torch storage class -> element dtype (the classes torch.save names in persistent ids). */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

const CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface StorageRef {
  readonly kind: 'storage';
  readonly dtype: DType;
  readonly key: string;
  readonly numel: number;
}

export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  /** In elements. */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

/** Mutable dict for the VM; keys are strings or numbers (state dicts use strings). */
class PDict {
  readonly map = new Map<unknown, unknown>();
}

class Tuple {
  constructor(readonly items: readonly unknown[]) {}
}

const MARK = Symbol('mark');

/** Run the restricted VM over `data.pkl` bytes; returns the top-level object (PDict -> Map, tensors as TensorRef). */
export function restrictedUnpickle(bytes: Uint8Array, file: string): unknown {
  const refuse = (why: string): CoreError =>
    new CoreError('bad-format', tr`${file}: refused to read this pickle: ${why}. A tensor file only needs torch's tensor rebuild functions; this one could run code if loaded with torch.load, so it is not loaded.`, file);
  const bad = (why: string): CoreError => new CoreError('bad-format', tr`${file}: corrupt pickle (${why}).`, file);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: false });
  let pos = 0;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number): void => {
    if (pos + n > bytes.length) throw bad('unexpected end of data');
  };
  const u8 = (): number => { need(1); return bytes[pos++]!; };
  const u16 = (): number => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const text = (n: number): string => { need(n); const s = dec.decode(bytes.subarray(pos, pos + n)); pos += n; return s; };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw bad('unterminated line');
    const s = dec.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw bad('stack underflow');
    const v = stack.pop();
    if (v === MARK) throw bad('unexpected mark');
    return v;
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw bad('missing mark');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const top = (): unknown => {
    const v = stack[stack.length - 1];
    if (v === undefined && stack.length === 0) throw bad('stack underflow');
    return v;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const q = `${module}.${name}`;
    if (CALLABLES.has(q)) return new PickleGlobal(module, name);
    if (module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, name)) return new PickleGlobal(module, name);
    throw refuse(`it references the global '${q}'`);
  };
  const nonNegInt = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${what} is not a non-negative integer`);
    return v;
  };
  const intTuple = (v: unknown, what: string): number[] => {
    if (!(v instanceof Tuple)) throw bad(`${what} is not a tuple`);
    return v.items.map((x) => nonNegInt(x, what));
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PickleGlobal) || !CALLABLES.has(fn.qualified)) {
      throw refuse(`it calls '${fn instanceof PickleGlobal ? fn.qualified : typeof fn}'`);
    }
    if (!(args instanceof Tuple)) throw bad('call arguments are not a tuple');
    const a = args.items;
    switch (fn.name) {
      case 'OrderedDict':
        if (a.length !== 0) throw refuse('OrderedDict is called with arguments');
        return new PDict();
      case '_rebuild_tensor':
      case '_rebuild_tensor_v2': {
        const storage = a[0] as StorageRef;
        if (!storage || storage.kind !== 'storage') throw bad('tensor rebuilt without a storage');
        return { kind: 'tensor', storage, offset: nonNegInt(a[1], 'storage offset'), shape: intTuple(a[2], 'size'), stride: intTuple(a[3], 'stride') } satisfies TensorRef;
      }
      case '_rebuild_parameter':
      case '_rebuild_parameter_with_state': {
        const t = a[0] as TensorRef;
        if (!t || t.kind !== 'tensor') throw bad('parameter rebuilt without a tensor');
        return t;
      }
    }
    throw refuse(`it calls '${fn.qualified}'`);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); pos += 8; break; // FRAME (length is advisory)
      case 0x28: stack.push(MARK); break; // (
      case 0x7d: stack.push(new PDict()); break; // } EMPTY_DICT
      case 0x5d: stack.push([]); break; // ] EMPTY_LIST
      case 0x29: stack.push(new Tuple([])); break; // ) EMPTY_TUPLE
      case 0x74: stack.push(new Tuple(popMark())); break; // t TUPLE
      case 0x85: stack.push(new Tuple([pop()])); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push(new Tuple([a, b])); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new Tuple([a, b, c])); break; }
      case 0x4e: stack.push(null); break; // N
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(u8()); break; // K BININT1
      case 0x4d: stack.push(u16()); break; // M BININT2
      case 0x4a: { need(4); stack.push(dv.getInt32(pos, true)); pos += 4; break; } // J BININT
      case 0x8a: { // LONG1: little-endian two's complement, up to 8 bytes here
        const n = u8();
        if (n > 8) throw bad('integer too large');
        need(n);
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[pos + i]!;
        if (n > 0 && bytes[pos + n - 1]! & 0x80) v -= 2 ** (8 * n);
        pos += n;
        if (!Number.isSafeInteger(v)) throw bad('integer beyond 2^53');
        stack.push(v);
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // G BINFLOAT
      case 0x58: stack.push(text(u32())); break; // X BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: { const lo = u32(); const hi = u32(); if (hi) throw bad('string too large'); stack.push(text(lo)); break; }
      case 0x55: stack.push(text(u8())); break; // U SHORT_BINSTRING (protocol 2 byte strings: 'little' in old files)
      case 0x54: stack.push(text(u32())); break; // T BINSTRING
      case 0x71: memo.set(u8(), top()); break; // q BINPUT
      case 0x72: memo.set(u32(), top()); break; // r LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // h BINGET, j LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw bad(`memo key ${k} missing`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // c GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw bad('STACK_GLOBAL operands are not strings');
        stack.push(global(module, name));
        break;
      }
      case 0x51: { // Q BINPERSID: ('storage', storage_type, key, location, numel)
        const pid = pop();
        if (!(pid instanceof Tuple) || pid.items[0] !== 'storage' || pid.items.length < 5) throw refuse('an unknown persistent id');
        const type = pid.items[1];
        if (!(type instanceof PickleGlobal) || type.module !== 'torch' || !STORAGE_DTYPES[type.name]) throw refuse('an unknown storage type');
        const key = pid.items[2];
        if (typeof key !== 'string' || !/^[A-Za-z0-9_]+$/.test(key)) throw bad('storage key is not a plain name');
        stack.push({ kind: 'storage', dtype: STORAGE_DTYPES[type.name]!, key, numel: nonNegInt(pid.items[4], 'storage size') } satisfies StorageRef);
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // R REDUCE
      case 0x62: { // b BUILD: only state on an OrderedDict (its __dict__, e.g. _metadata), which is dropped
        pop();
        if (!(top() instanceof PDict)) throw refuse('it sets object state (BUILD) on something other than a dict');
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); const d = top(); if (!(d instanceof PDict)) throw bad('SETITEM on a non-dict'); d.map.set(k, v); break; }
      case 0x75: { // u SETITEMS
        const items = popMark();
        const d = top();
        if (!(d instanceof PDict) || items.length % 2) throw bad('SETITEMS on a non-dict');
        for (let i = 0; i < items.length; i += 2) d.map.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) throw bad('APPEND on a non-list'); l.push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) throw bad('APPENDS on a non-list'); l.push(...items); break; }
      case 0x2e: { // . STOP
        const result = pop();
        return toPlain(result);
      }
      default:
        throw refuse(`it uses pickle opcode 0x${op.toString(16).padStart(2, '0')}, which a tensor file never needs`);
    }
  }
}

function toPlain(v: unknown): unknown {
  if (v instanceof PDict) {
    const out = new Map<unknown, unknown>();
    for (const [k, x] of v.map) out.set(k, toPlain(x));
    return out;
  }
  if (v instanceof Tuple) return v.items.map(toPlain);
  return v;
}
