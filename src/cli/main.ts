// lora-workbench CLI: subcommand dispatch over the same core and engine the extension uses.
// Exit codes: 0 success, 1 a domain failure the command reports (e.g. an error-severity diagnosis), 2 usage or I/O error.

import { parseArgs } from 'node:util';
import { CoreError, toCoreError } from '../core/errors';
import { localizedMessage } from '../core/text';
import { ENGINE_VERSION } from '../engine/probe';
import { UsageError, type CliCommand, type CliIo } from './command';
import { probeCommand } from './commands/probe';
import { scanCommand } from './commands/scan';
import { generateCommand } from './commands/generate';
import { tokenizeCommand } from './commands/tokenize';
import { diagnoseCommand } from './commands/diagnose';
import { ggufCommand } from './commands/gguf';
import { mergeCommand } from './commands/merge';
import { inspectCommand } from './commands/inspect';
import { evalCommand } from './commands/eval';
import { planCommand } from './commands/plan';

/** Registered subcommands; later issues add scan, diagnose, merge, generate, tokenize here. */
export const COMMANDS: readonly CliCommand[] = [probeCommand, scanCommand, generateCommand, tokenizeCommand, diagnoseCommand, mergeCommand, ggufCommand, inspectCommand, evalCommand, planCommand];

const HELP = () => `lora-workbench ${ENGINE_VERSION} - inspect, diagnose, merge and run LoRA adapters

Usage: lora-workbench <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Options:
  -h, --help      show help (also: lora-workbench <command> --help)
  -v, --version   print the version
  --json          machine-readable output on stdout (per command)
`;

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    (first === undefined ? io.stderr : io.stdout).write(HELP());
    return first === undefined ? 2 : 0;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`${ENGINE_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.stderr.write(`lora-workbench: unknown command '${first}'. Run 'lora-workbench --help' for the list.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage + '\n');
    return 0;
  }
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: command.options, allowPositionals: command.allowPositionals, strict: true }));
  } catch (err) {
    io.stderr.write(`lora-workbench ${command.name}: ${(err as Error).message}\n\n${command.usage}\n`);
    return 2;
  }
  try {
    return await command.run(values, positionals, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`lora-workbench ${command.name}: ${err.message}\n\n${command.usage}\n`);
      return 2;
    }
    const e = err instanceof CoreError ? err : toCoreError(err);
    io.stderr.write(`lora-workbench ${command.name}: ${localizedMessage(e, io.translate)}\n`);
    if (e.code === 'internal' && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
    return e.code === 'incompatible' || e.code === 'non-finite' || e.code === 'bad-format' ? 1 : 2;
  }
}
