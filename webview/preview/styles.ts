// Styles of the generation-preview webview, injected as a <style nonce> (the CSP allows no other inline style).
// Every colour is a VS Code theme variable, so light, dark and high-contrast themes work unchanged.

export const PREVIEW_CSS = `
body { padding: 8px 16px 24px; color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
h1 { font-size: 1.2em; font-weight: 600; margin: 4px 0 10px; }
h2 { font-size: 1em; font-weight: 600; margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.prompt-area { display: grid; grid-template-columns: minmax(0, 2fr) minmax(180px, 1fr); gap: 8px 16px; }
@media (max-width: 640px) { .prompt-area { grid-template-columns: minmax(0, 1fr); } }
.prompt-area vscode-textarea, .side vscode-single-select { width: 100%; }
#prompt { min-height: 90px; }
.side { display: flex; flex-direction: column; gap: 6px; }
.field { display: flex; flex-direction: column; gap: 2px; }
.field label { color: var(--vscode-descriptionForeground); font-size: 0.9em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.field .hint { color: var(--vscode-descriptionForeground); font-size: 0.8em; }
.params { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); align-items: start; gap: 6px 12px; margin: 10px 0; }
.params vscode-textfield { width: 100%; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 8px 0; }
.toolbar .hint { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
#status { display: flex; align-items: center; gap: 8px; min-height: 22px; color: var(--vscode-descriptionForeground); }
#status[data-state="error"] { color: var(--vscode-errorForeground); }
#status[data-state="untrusted"] { color: var(--vscode-editorWarning-foreground, var(--vscode-foreground)); }
#status vscode-progress-bar { flex: 0 0 160px; }
#diagnosis { border: 1px solid var(--vscode-inputValidation-errorBorder, var(--vscode-errorForeground)); background: var(--vscode-inputValidation-errorBackground, transparent); padding: 8px 12px; margin: 8px 0; border-radius: 3px; }
#diagnosis[hidden], #trust[hidden] { display: none; }
#diagnosis ul { margin: 6px 0; padding-left: 18px; }
#diagnosis li.warning { color: var(--vscode-editorWarning-foreground, inherit); }
#diagnosis code { font-family: var(--vscode-editor-font-family); color: var(--vscode-descriptionForeground); }
#diagnosis .actions, #trust .actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
#trust { border: 1px solid var(--vscode-editorWarning-foreground, var(--vscode-focusBorder)); padding: 8px 12px; margin: 8px 0; border-radius: 3px; }
#columns { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(240px, 1fr); align-items: stretch; gap: 12px; margin-top: 8px; overflow-x: auto; padding-bottom: 4px; }
.column { display: flex; flex-direction: column; border: 1px solid var(--vscode-editorWidget-border, var(--vscode-panel-border)); border-radius: 3px; min-width: 0; background: var(--vscode-editorWidget-background, transparent); }
.column header { display: flex; align-items: center; gap: 6px; padding: 6px 8px; border-bottom: 1px solid var(--vscode-editorWidget-border, var(--vscode-panel-border)); }
.column header h2 { flex: 1; }
.column .detail { color: var(--vscode-descriptionForeground); font-size: 0.85em; padding: 2px 8px 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.column .scale-row { display: flex; align-items: center; gap: 6px; padding: 4px 8px; }
.column .scale-row input[type="range"] { flex: 1; accent-color: var(--vscode-button-background); }
.column .scale-row output { font-variant-numeric: tabular-nums; min-width: 2.5em; text-align: right; }
.column .stats { display: flex; flex-wrap: wrap; gap: 4px 10px; padding: 4px 8px; color: var(--vscode-descriptionForeground); font-size: 0.85em; font-variant-numeric: tabular-nums; }
.column .state { padding: 0 8px; font-size: 0.85em; color: var(--vscode-descriptionForeground); }
.column .state.error { color: var(--vscode-errorForeground); }
.column .reference-row { display: flex; align-items: center; gap: 6px; padding: 2px 8px; font-size: 0.85em; color: var(--vscode-descriptionForeground); }
.column .reference-row vscode-single-select { flex: 1; min-width: 0; }
.column .fidelity { padding: 0 8px; font-size: 0.85em; color: var(--vscode-descriptionForeground); }
.column .fidelity:empty { display: none; }
.column .fidelity.error { color: var(--vscode-errorForeground); }
.column .divergence { padding: 0 8px; font-size: 0.85em; color: var(--vscode-editorWarning-foreground, var(--vscode-descriptionForeground)); }
.output { flex: 1 1 auto; margin: 0; padding: 8px; min-height: 120px; max-height: 60vh; overflow: auto; white-space: pre-wrap; word-break: break-word; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); color: var(--vscode-editor-foreground); }
.output:focus { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
.output .tok.diverge { background: var(--vscode-diffEditor-insertedTextBackground, var(--vscode-editor-findMatchHighlightBackground)); outline: 1px solid var(--vscode-editorWarning-foreground, var(--vscode-focusBorder)); border-radius: 2px; }
.output .cursor::after { content: '▍'; color: var(--vscode-editorCursor-foreground); }
.column footer { margin-top: auto; display: flex; gap: 6px; padding: 6px 8px; border-top: 1px solid var(--vscode-editorWidget-border, var(--vscode-panel-border)); }
#notice { min-height: 1.2em; color: var(--vscode-descriptionForeground); font-size: 0.9em; }
`;
