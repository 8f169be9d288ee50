// One long engine job from the CLI (merge, gguf): progress bar on an interactive stderr, warnings forwarded, Ctrl-C
// cancels the job in the worker (which removes its temporary output) before the process exits.

import { CoreError, toCoreError } from '../core/errors';
import type { RequestType } from '../engine/protocol';
import { EngineClient } from '../node/engineClient';
import type { CliIo } from './command';
import { mergeExitCode, progressBar } from './commands/merge';

/** The job's result, or the exit code of its failure (the error already printed as `lora-workbench <command>: ...`). */
export async function runEngineJob<P, R>(io: CliIo, command: string, type: RequestType<P, R>, params: P): Promise<{ result: R } | { code: number }> {
  const engine = new EngineClient({
    onLog: (m) => {
      if (m.level === 'warn' || m.level === 'error') io.stderr.write(`${io.interactive ? '\r\x1b[K' : ''}${m.level}: ${m.message}\n`);
    },
  });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await engine.request(type, params, { signal: controller.signal, onProgress: io.interactive ? progressBar(io) : undefined });
    if (io.interactive) io.stderr.write('\r\x1b[K');
    return { result };
  } catch (err) {
    const e = err instanceof CoreError ? err : toCoreError(err);
    if (io.interactive) io.stderr.write('\r\x1b[K');
    io.stderr.write(`lora-workbench ${command}: ${e.message}\n`);
    return { code: mergeExitCode(e) };
  } finally {
    process.off('SIGINT', onSigint);
    await engine.dispose();
  }
}
