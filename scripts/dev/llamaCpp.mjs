// Dev-only: llama.cpp from the release that the npm package node-llama-cpp bundles (llama/gitRelease.bundle), built in
// a cache folder outside the repository (LLAMA_CACHE overrides it). Two builds, for two jobs:
//   - portable (GGML_NATIVE=OFF): the goldens' llama-quantize, whose output must not depend on this CPU;
//   - native (-march=native): the speed baseline of the benchmarks (llama-bench), as a user who builds llama.cpp gets.
// Never commits llama.cpp code or binaries; the project's tests never need it.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const cache = process.env.LLAMA_CACHE ?? path.join(os.homedir(), '.cache', 'lora-workbench-llama');
export const llamaDir = path.join(cache, 'llama.cpp');
export const shimDir = path.join(cache, 'pyshim');
export const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30, ...opts });

/** The source tree, cloned once from the bundle in the npm package. */
export function ensureSource() {
  fs.mkdirSync(cache, { recursive: true });
  if (!fs.existsSync(llamaDir)) {
    const tgz = run('npm', ['pack', 'node-llama-cpp', '--silent'], { cwd: cache }).toString().trim().split('\n').pop();
    run('tar', ['xzf', tgz, 'package/llama/gitRelease.bundle', 'package/package.json'], { cwd: cache });
    run('git', ['clone', '-q', path.join(cache, 'package/llama/gitRelease.bundle'), llamaDir]);
  }
  return llamaDir;
}

/** The node-llama-cpp version whose bundled release this is (for the records). */
export function releaseName() {
  const pkg = JSON.parse(fs.readFileSync(path.join(cache, 'package/package.json'), 'utf8'));
  return `llama.cpp from node-llama-cpp ${pkg.version}`;
}

const COMMON = ['-DCMAKE_BUILD_TYPE=Release', '-DLLAMA_CURL=OFF', '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_SERVER=OFF', '-DGGML_OPENMP=OFF'];

function build(dir, flags, targets) {
  const bins = targets.map((t) => path.join(llamaDir, dir, 'bin', t));
  if (bins.every((b) => fs.existsSync(b))) return bins;
  ensureSource();
  run('cmake', ['-B', dir, ...COMMON, ...flags], { cwd: llamaDir });
  run('nice', ['-n', '5', 'cmake', '--build', dir, '-j2', '--target', ...targets], { cwd: llamaDir });
  return bins;
}

/** llama-quantize (and llama-simple) built for any x86-64: the goldens' reference quantizer. */
export function buildPortable() {
  const [quantize] = build('build', ['-DGGML_NATIVE=OFF'], ['llama-quantize', 'llama-simple']);
  return quantize;
}

/**
 * llama-bench and llama-quantize built for this CPU (AVX-512 where it has it). AMX is left out: on the
 * Sapphire Rapids VMs here AMX tile use faults inside the guest (llama-bench died on its first q8_0 matmul), and a
 * user's llama.cpp on such a VM would be built the same way.
 */
export function buildNative() {
  const noAmx = '-mno-amx-tile -mno-amx-int8 -mno-amx-bf16';
  const [bench, quantize] = build('build-native', ['-DGGML_NATIVE=ON', '-DGGML_AMX_TILE=OFF', '-DGGML_AMX_INT8=OFF', '-DGGML_AMX_BF16=OFF',
    `-DCMAKE_C_FLAGS=${noAmx}`, `-DCMAKE_CXX_FLAGS=${noAmx}`], ['llama-bench', 'llama-quantize']);
  return { bench, quantize };
}

/** One Python file of the stand-ins, under the shim folder. */
function writePy(rel, lines) {
  const file = path.join(shimDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n'));
}

/** transformers and tqdm are not installable here; the converter needs only AutoConfig and a silent progress bar. */
export function writeShim() {
  writePy('transformers/__init__.py', [
    'import json, os',
    'class _Cfg(dict):',
    '    def to_dict(self): return dict(self)',
    'class AutoConfig:',
    '    @staticmethod',
    '    def from_pretrained(path, **kw):',
    '        with open(os.path.join(path, "config.json"), encoding="utf-8") as f: return _Cfg(json.load(f))',
    'class AutoTokenizer:',
    '    @staticmethod',
    '    def from_pretrained(path, **kw): raise ImportError("AutoTokenizer is not in this stand-in")',
    '',
  ]);
  writePy('tqdm/__init__.py', [
    'class tqdm:',
    '    def __init__(self, *a, **k): pass',
    '    def update(self, *a, **k): pass',
    '    def reset(self, *a, **k): pass',
    '    def set_description(self, *a, **k): pass',
    '    def close(self): pass',
    '',
  ]);
  // safetensors' load_file (sorted names, as the real one returns them), for convert_lora_to_gguf.py.
  writePy('safetensors/__init__.py', []);
  writePy('safetensors/torch.py', [
    'import json, struct, numpy as np, torch',
    'def load_file(path, device="cpu"):',
    '    with open(path, "rb") as f: raw = f.read()',
    '    n = struct.unpack("<Q", raw[:8])[0]; header = json.loads(raw[8:8 + n]); base = 8 + n; out = {}',
    '    for name in sorted(k for k in header if k != "__metadata__"):',
    '        t = header[name]; b, e = t["data_offsets"]; buf = np.frombuffer(raw[base + b:base + e], dtype=np.uint8).copy()',
    '        dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[t["dtype"]]',
    '        out[name] = torch.from_numpy(buf).view(dt).reshape(t["shape"])',
    '    return out',
    '',
  ]);
  // Debian's torch 1.13 lacks the float8 dtypes the converter names in a table.
  writePy('sitecustomize.py', [
    'import torch',
    'if not hasattr(torch, "float8_e4m3fn"):',
    '    torch.float8_e4m3fn = torch.qint8',
    '    torch.float8_e5m2 = torch.quint8',
    '',
  ]);
}

/** The environment under which llama.cpp's Python converters find the stand-ins and gguf-py. */
export function converterEnv() {
  writeShim();
  return { ...process.env, PYTHONPATH: `${shimDir}:${path.join(llamaDir, 'gguf-py')}:${llamaDir}` };
}

/** convert_hf_to_gguf.py on a model folder. */
export function convertHf(model, outtype, out, stdio = ['ignore', 'ignore', 'ignore']) {
  ensureSource();
  run(python, [path.join(llamaDir, 'convert_hf_to_gguf.py'), model, '--outtype', outtype, '--outfile', out], { env: converterEnv(), stdio });
}
