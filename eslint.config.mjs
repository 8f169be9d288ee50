// Lint: layering rules (ARCHITECTURE.md) as errors, plus a small set of correctness rules.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'worker_threads', 'child_process', 'crypto', 'util', 'stream', 'url', 'events', 'buffer', 'zlib', 'v8', 'readline', 'net', 'http', 'https'];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.e2e-host/**', '.e2e-run/**', 'src/kernels/wasm/assembly/**', 'demo/**', '.demo/**', 'bench/.tmp/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      'no-debugger': 'error',
      'no-duplicate-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'error',
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: "'vscode' may only be imported under src/extension/ (and the in-host e2e tests)." }] }],
    },
  },
  {
    files: ['src/extension/**/*.ts', 'test/e2e/host/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'src/core is pure: no vscode.' }, ...nodeBuiltins.map((name) => ({ name, message: 'src/core is pure: use the ports in src/core/ports.ts.' }))],
        patterns: [{ group: ['node:*'], message: 'src/core is pure: no node:* imports; use the ports in src/core/ports.ts.' },
                   { group: ['**/extension/**', '**/node/**', '**/engine/**', '**/cli/**', '**/kernels/**'], message: 'src/core depends on nothing outside src/core.' }],
      }],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'webviews cannot import vscode.' }],
        patterns: [{ group: ['node:*'], message: 'webviews run in a browser.' },
                   { group: ['**/src/core/**', '**/src/node/**', '**/src/extension/**', '**/src/kernels/**'], message: 'webviews import only engine/protocol types and their own messages.' }],
      }],
    },
  },
);
