// Minimal glob -> RegExp for the scan include/exclude settings (VS Code glob syntax: **, *, ?, {a,b}, [abc]).
// Matching is on '/'-separated paths relative to the workspace folder; no dependency so core stays pure.

/** Compile one glob. `**` spans folders, `*` and `?` stay inside one path segment. */
export function globToRegExp(glob: string): RegExp {
  let g = glob.trim().replace(/\\/g, '/');
  if (g.startsWith('./')) g = g.slice(2);
  if (g.endsWith('/')) g = g.slice(0, -1);
  let re = '';
  let inGroup = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') {
      if (g[i + 1] === '*') {
        // '**/' matches zero or more whole segments; a trailing '**' matches everything below.
        const atStart = i === 0 || g[i - 1] === '/';
        i++;
        if (g[i + 1] === '/' && atStart) {
          i++;
          re += '(?:[^/]*(?:/|$))*';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '{') {
      inGroup++;
      re += '(?:';
    } else if (c === '}' && inGroup > 0) {
      inGroup--;
      re += ')';
    } else if (c === ',' && inGroup > 0) {
      re += '|';
    } else if (c === '[') {
      const close = g.indexOf(']', i + 1);
      if (close < 0) {
        re += '\\[';
      } else {
        let body = g.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body}]`;
        i = close;
      }
    } else {
      re += c.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/** A set of globs; a path matches when any glob matches it. */
export class GlobSet {
  private readonly res: RegExp[];

  constructor(globs: readonly string[]) {
    this.res = globs.filter((g) => g.trim().length > 0).map(globToRegExp);
  }

  get empty(): boolean {
    return this.res.length === 0;
  }

  matches(relPath: string): boolean {
    return this.res.some((r) => r.test(relPath));
  }

  /** True when the path or one of its ancestors matches (so 'runs' and 'runs/**' both include runs/a/b). */
  matchesSelfOrAncestor(relPath: string): boolean {
    if (this.matches(relPath)) return true;
    let p = relPath;
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/')) {
      p = p.slice(0, i);
      if (this.matches(p)) return true;
    }
    return false;
  }
}

/** Defaults of loraWorkbench.scan.exclude: version control, package and cache folders never hold checkpoints. */
export const DEFAULT_SCAN_EXCLUDE: readonly string[] = [
  '**/node_modules',
  '**/.git',
  '**/.hg',
  '**/.svn',
  '**/__pycache__',
  '**/.venv',
  '**/.mypy_cache',
  '**/.ipynb_checkpoints',
];

export const DEFAULT_SCAN_MAX_DEPTH = 10;
