// Runs the CLI in-process with captured stdout/stderr, for the CLI tests.

import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main';
import type { Translate } from '../../src/core/text';

export async function runCliCaptured(args: string[], opts: { cwd?: string; translate?: Translate } = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => (out += b.toString()));
  stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await runCli(args, { stdout, stderr, cwd: opts.cwd ?? process.cwd(), interactive: false, translate: opts.translate });
  return { code, out, err };
}
