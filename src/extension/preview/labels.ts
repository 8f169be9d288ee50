// The preview webview's strings, localized here with vscode.l10n (the webview cannot reach the l10n bundle) and sent
// to it in the `init` message. Keys are LABEL_KEYS of webview/preview/messages.ts; the compiler checks every key is set.

import * as vscode from 'vscode';
import type { PreviewLabels } from '../../../webview/preview/messages';

export function previewLabels(): PreviewLabels {
  const mod = process.platform === 'darwin' ? 'Cmd' : 'Ctrl';
  return {
    prompt: vscode.l10n.t('Prompt'),
    promptPlaceholder: vscode.l10n.t('Type a prompt; {0}+Enter runs it in every column.', mod),
    format: vscode.l10n.t('Format'),
    formatRaw: vscode.l10n.t('Raw text'),
    formatAlpaca2: vscode.l10n.t('Alpaca-2 template'),
    formatChat: vscode.l10n.t("Model's chat template"),
    formatChatUnavailable: vscode.l10n.t('This model has no chat_template in tokenizer_config.json.'),
    system: vscode.l10n.t('System prompt (optional)'),
    systemPlaceholder: vscode.l10n.t('Used by the Alpaca-2 and chat formats'),
    parameters: vscode.l10n.t('Parameters'),
    maxNewTokens: vscode.l10n.t('Max new tokens'),
    temperature: vscode.l10n.t('Temperature (0 = greedy)'),
    topK: vscode.l10n.t('Top-k (0 = off)'),
    topP: vscode.l10n.t('Top-p'),
    repetitionPenalty: vscode.l10n.t('Repetition penalty'),
    seed: vscode.l10n.t('Seed'),
    run: vscode.l10n.t('Run'),
    stop: vscode.l10n.t('Stop'),
    runHint: vscode.l10n.t('{0}+Enter', mod),
    addCheckpoint: vscode.l10n.t('Add Checkpoint...'),
    removeColumn: vscode.l10n.t('Remove column'),
    scale: vscode.l10n.t('Adapter scale'),
    copy: vscode.l10n.t('Copy'),
    openMarkdown: vscode.l10n.t('Open as Markdown'),
    recentPrompts: vscode.l10n.t('Recent prompts'),
    recentNone: vscode.l10n.t('(no recent prompts)'),
    ttft: vscode.l10n.t('first token'),
    tokensPerSecond: vscode.l10n.t('tok/s'),
    ms: vscode.l10n.t('ms'),
    tokens: vscode.l10n.t('tokens'),
    stopped: vscode.l10n.t('Stopped'),
    finishedEos: vscode.l10n.t('End of sequence'),
    finishedMax: vscode.l10n.t('Max new tokens reached'),
    finishedStop: vscode.l10n.t('Stop string'),
    waiting: vscode.l10n.t('Waiting'),
    generating: vscode.l10n.t('Generating...'),
    loading: vscode.l10n.t('Loading the base model...'),
    diagnosing: vscode.l10n.t('Checking the base model...'),
    ready: vscode.l10n.t('Ready'),
    untrusted: vscode.l10n.t('Generation runs models from this folder, so it is disabled in Restricted Mode. Trust this workspace to run the preview.'),
    manageTrust: vscode.l10n.t('Manage Workspace Trust'),
    divergence: vscode.l10n.t('First divergence from Base at token {0}'),
    divergenceNone: vscode.l10n.t('Same tokens as Base'),
    retry: vscode.l10n.t('Check Again'),
    columns: vscode.l10n.t('Outputs'),
    greedy: vscode.l10n.t('greedy'),
    copied: vscode.l10n.t('Copied to the clipboard.'),
    error: vscode.l10n.t('Error'),
  };
}
