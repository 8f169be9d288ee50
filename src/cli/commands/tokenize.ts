// `lora-workbench tokenize`: text -> ids and pieces with the model's tokenizer (or the adapter's when it ships one),
// BOS/EOS added as its tokenizer_config.json says. Runs in-process: no weights are loaded.

import { loadTokenizer, hasTokenizer } from '../../core/tokenizer/loadTokenizer';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand } from '../command';

const USAGE = `lora-workbench tokenize --model <folder> [--adapter <folder>] --text <text> [--json]

  Show how the model's tokenizer splits a text (with BOS as the tokenizer config says).

  --model <folder>     model folder (tokenizer.model or tokenizer.json, tokenizer_config.json)
  --adapter <folder>   use this adapter's tokenizer when it ships one (a resized vocabulary)
  --text <text>        the text
  --json               print {"ids": [...], "pieces": [...]}`;

export const tokenizeCommand: CliCommand = {
  name: 'tokenize',
  summary: 'Show the token ids and pieces of a text.',
  usage: USAGE,
  options: { model: { type: 'string' }, adapter: { type: 'string' }, text: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  async run(values, _positionals, io) {
    if (typeof values.model !== 'string') throw new UsageError('--model is required.');
    if (typeof values.text !== 'string') throw new UsageError('--text is required.');
    const fs = new NodeFs();
    let folder = absolutePath(values.model, io.cwd);
    if (typeof values.adapter === 'string') {
      const adapter = absolutePath(values.adapter, io.cwd);
      if (await hasTokenizer(fs, adapter)) folder = adapter;
    }
    const tok = await loadTokenizer(fs, folder);
    const { ids, pieces } = tok.encode(values.text);
    if (values.json) writeJson(io, { ids, pieces });
    else for (let i = 0; i < ids.length; i++) io.stdout.write(`${ids[i]}\t${JSON.stringify(pieces[i])}\n`);
    return 0;
  },
};
