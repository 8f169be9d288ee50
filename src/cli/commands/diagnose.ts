// `lora-workbench diagnose <adapter folder | adapter_config.json> [--base <folder>] [--json]`: the editor's base-model
// diagnosis on the command line. Exit 0 without error-severity problems, 1 with one, 2 on usage/IO failure. Never writes.

import { diagnoseAdapter, diagnosisToJson } from '../../core/basemodel/diagnose';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand } from '../command';
import { localizedMessage } from '../../core/text';

export const diagnoseCommand: CliCommand = {
  name: 'diagnose',
  summary: 'Check an adapter\'s base model: where it resolves, and whether it fits (headers only).',
  usage: [
    'lora-workbench diagnose <adapter folder | adapter_config.json> [--base <folder>] [--search <folder>]... [--json]',
    '',
    '  --base <folder>     check compatibility against this folder instead of the recorded base_model_name_or_path',
    '  --search <folder>   a folder holding models by name (like the loraWorkbench.modelSearchPaths setting); repeatable',
    '  --json              machine-readable result on stdout',
    '',
    'Relative base paths are tried against the current directory, the adapter\'s parent folders and the adapter folder.',
    'Exit codes: 0 no error-severity problem, 1 at least one, 2 usage or I/O failure.',
  ].join('\n'),
  options: { base: { type: 'string' }, search: { type: 'string', multiple: true }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one adapter folder or adapter_config.json.');
    const fs = new NodeFs();
    const target = absolutePath(positionals[0]!, io.cwd);
    const base = typeof values.base === 'string' ? absolutePath(values.base, io.cwd) : undefined;
    if (base !== undefined && (await fs.stat(base))?.kind !== 'dir') throw new UsageError(`--base ${values.base}: not a folder.`);
    const search = Array.isArray(values.search) ? (values.search as string[]).map((s) => absolutePath(s, io.cwd)) : [];
    const d = await diagnoseAdapter(fs, target, { base, workspaceFolders: [absolutePath('.', io.cwd)], searchPaths: search });
    const json = diagnosisToJson(d);
    if (values.json) writeJson(io, json);
    else {
      const b = json.base;
      io.stdout.write(`${json.config}\n  format: ${json.format}\n  base: ${b.raw === null ? '(none)' : JSON.stringify(b.raw)} [${b.kind}]`);
      io.stdout.write(b.resolved ? ` -> ${b.resolved}${d.base.via ? ` (${d.base.via})` : ''}\n` : ' -> not found\n');
      if (d.base.info) {
        const i = d.base.info;
        io.stdout.write(`  model: ${i.architecture ?? '?'} ${i.dtype ?? ''} ${i.numLayers ?? '?'} layers, vocab ${i.vocabSize ?? '?'}, ${i.weights?.files.length ?? 0} weight file(s)\n`);
      }
      if (d.compat) io.stdout.write(`  tensors: ${d.compat.matched}/${d.compat.total} adapter tensors fit the base\n`);
      io.stdout.write(`  compatible: ${json.compatible === null ? 'unknown' : json.compatible ? 'yes' : 'no'}\n`);
      for (const c of b.candidates.slice(0, 5)) io.stdout.write(`  candidate: ${c}\n`);
      json.problems.forEach((p, i) => io.stdout.write(`  ${p.line}:${p.column} ${p.severity} [${p.code}] ${localizedMessage(d.problems[i]!, io.translate)}\n`));
    }
    return json.problems.some((p) => p.severity === 'error') ? 1 : 0;
  },
};
