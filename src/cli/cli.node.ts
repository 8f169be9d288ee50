// Process entry of the `lora-workbench` bin (bundled to dist/cli.js with a shebang).

import { cliTranslate } from './language';
import { runCli } from './main';

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  interactive: process.stderr.isTTY === true,
  translate: cliTranslate(process.env),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`lora-workbench: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
