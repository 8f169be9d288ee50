// Classify a base_model_name_or_path value syntactically: which kind of reference it is and, for absolute paths,
// whether it looks like it came from another machine (Colab, Kaggle, AutoDL, Windows...). No file system access.
// Reference: DOMAIN.md §5; transformers' from_pretrained (isdir first, else hub id), huggingface_hub file layout.

import type { HostEnv } from '../ports';

export type BaseKind = 'absolute' | 'windows' | 'relative' | 'home' | 'hub-id' | 'hf-cache-snapshot' | 'modelscope-cache' | 'null';

/** Known hosted-notebook and cloud layouts whose paths rarely exist on the user's machine. */
export type ForeignOrigin = 'colab' | 'kaggle' | 'autodl' | 'modelscope-dsw' | 'runpod' | 'windows' | 'posix' | 'other-home';

export interface BaseClassification {
  readonly raw: string | null;
  readonly kind: BaseKind;
  /** For hub ids and cache paths: "org/name". */
  readonly hubId?: string;
  /** For HF cache snapshot paths: the commit hash in the path. */
  readonly snapshot?: string;
  /** Sub-folder inside a snapshot (subfolder= loads). */
  readonly snapshotSubpath?: string;
  /** Where a path seems to come from when it is not this machine's. */
  readonly origin?: ForeignOrigin;
  /** A hub-id-shaped value ("models/llama") may also be a relative folder: transformers checks isdir() first. */
  readonly alsoRelative?: boolean;
}

const HUB_ID = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]*\/)?[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const HF_SNAPSHOT = /(?:^|[\\/])models--([^\\/]+?)--([^\\/]+)[\\/]snapshots[\\/]([0-9a-f]{40}|[^\\/]+)(?:[\\/](.*))?$/;
const MODELSCOPE = /(?:^|[\\/])modelscope[\\/]hub[\\/](?:models[\\/])?([^\\/]+)[\\/]([^\\/]+)[\\/]?$/;

function foreignOrigin(p: string, env: HostEnv): ForeignOrigin | undefined {
  if (/^\/content(\/|$)/.test(p)) return 'colab';
  if (/^\/kaggle\/(input|working|tmp)(\/|$)/.test(p)) return 'kaggle';
  if (/^\/root\/autodl-(tmp|fs|pub)(\/|$)/.test(p)) return 'autodl';
  if (/^\/mnt\/workspace(\/|$)/.test(p)) return 'modelscope-dsw';
  if (/^\/workspace(\/|$)/.test(p) && env.platform !== 'linux') return 'runpod';
  if (env.platform === 'win32' && p.startsWith('/')) return 'posix';
  const home = /^(\/home\/[^/]+|\/Users\/[^/]+)(\/|$)/.exec(p);
  if (home && env.home && !(p === env.home || p.startsWith(env.home.replace(/\/$/, '') + '/'))) return 'other-home';
  return undefined;
}

/** Classify a raw value. `env` tells which paths are foreign here (a Windows path on Linux, another user's home). */
export function classifyBase(raw: unknown, env: HostEnv): BaseClassification {
  if (typeof raw !== 'string' || raw.trim() === '') return { raw: typeof raw === 'string' ? raw : null, kind: 'null' };
  const value = raw.trim();
  const snap = HF_SNAPSHOT.exec(value);
  if (snap && (value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value) || value.startsWith('~') || value.includes('/') || value.includes('\\'))) {
    return {
      raw, kind: 'hf-cache-snapshot', hubId: `${snap[1]}/${snap[2]}`, snapshot: snap[3], snapshotSubpath: snap[4] || undefined,
      origin: foreignIfPath(value, env),
    };
  }
  const ms = MODELSCOPE.exec(value);
  if (ms && (value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value) || value.startsWith('~'))) {
    // ModelScope mangles '.' in names to '___' on disk (Qwen2___5-7B-Instruct).
    return { raw, kind: 'modelscope-cache', hubId: `${ms[1]}/${ms[2]!.replace(/___/g, '.')}`, origin: foreignIfPath(value, env) };
  }
  if (/^[A-Za-z]:[\\/]/.test(value) || value.startsWith('\\\\')) {
    return { raw, kind: 'windows', origin: env.platform === 'win32' ? undefined : 'windows' };
  }
  if (value.startsWith('~')) return { raw, kind: 'home' };
  if (value.startsWith('/')) return { raw, kind: 'absolute', origin: foreignOrigin(value, env) };
  if (HUB_ID.test(value) && !value.startsWith('.') && !value.includes('..') && !value.endsWith('.')) {
    return { raw, kind: 'hub-id', hubId: value, alsoRelative: true };
  }
  return { raw, kind: 'relative' };
}

function foreignIfPath(value: string, env: HostEnv): ForeignOrigin | undefined {
  if (/^[A-Za-z]:[\\/]/.test(value)) return env.platform === 'win32' ? undefined : 'windows';
  if (value.startsWith('/')) return foreignOrigin(value, env);
  return undefined;
}

/** Human name of an origin for messages. */
export function originLabel(o: ForeignOrigin): string {
  switch (o) {
    case 'colab': return 'Google Colab (/content)';
    case 'kaggle': return 'a Kaggle notebook (/kaggle)';
    case 'autodl': return 'an AutoDL instance (/root/autodl-tmp)';
    case 'modelscope-dsw': return 'a ModelScope/PAI-DSW notebook (/mnt/workspace)';
    case 'runpod': return 'a cloud container (/workspace)';
    case 'windows': return 'a Windows machine';
    case 'posix': return 'a Linux/macOS machine';
    case 'other-home': return "another user's home folder (another machine?)";
  }
}

/** Expand a leading '~' the way a shell would (transformers itself does not). */
export function expandHome(value: string, env: HostEnv): string {
  return value === '~' ? env.home : value.replace(/^~(?=\/)/, env.home);
}

/** A git commit hash as the hub uses them. */
export function isCommitHash(s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s);
}
