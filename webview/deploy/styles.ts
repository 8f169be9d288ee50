// Styles of the deployment-plan webview, injected as a <style nonce>. Every colour is a VS Code theme variable, so
// light, dark and high-contrast themes all work; the three options sit side by side and wrap when the panel is narrow.

export const DEPLOY_CSS = `
body { padding: 8px 16px; color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
header h1 { font-size: 1.2em; font-weight: 600; margin: 0 0 2px; }
header .subtitle { color: var(--vscode-descriptionForeground); font-size: 0.9em; margin-bottom: 8px; }
.problem { border-left: 3px solid var(--vscode-editorWarning-foreground); background: var(--vscode-inputValidation-warningBackground, transparent); padding: 6px 10px; margin: 8px 0; }
.options { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; align-items: start; }
section.option { border: 1px solid var(--vscode-editorWidget-border, var(--vscode-panel-border)); padding: 8px 12px; background: var(--vscode-editorWidget-background); }
section.option h2 { font-size: 1.05em; margin: 0 0 4px; }
.note { color: var(--vscode-descriptionForeground); font-size: 0.9em; margin: 0 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0 0 8px; font-size: 0.95em; }
dl.facts dt { color: var(--vscode-descriptionForeground); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
table.rows { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.rows th { text-align: left; font-weight: 600; color: var(--vscode-descriptionForeground); font-size: 0.9em; padding: 2px 4px; }
table.rows td { padding: 3px 4px; vertical-align: top; border-top: 1px solid var(--vscode-editorWidget-border, transparent); }
table.rows td.size, table.rows td.load, table.rows td.act { white-space: nowrap; }
table.rows tbody tr { cursor: pointer; }
table.rows tr[aria-selected="true"] td { background: var(--vscode-list-inactiveSelectionBackground); }
table.rows td.error { color: var(--vscode-errorForeground); font-size: 0.9em; }
.badge { display: inline-block; white-space: nowrap; margin-left: 4px; padding: 0 4px; font-size: 0.8em; border-radius: 2px; background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); }
code.cmd { display: block; padding: 4px 6px; background: var(--vscode-textCodeBlock-background); font-family: var(--vscode-editor-font-family); font-size: 0.85em; color: var(--vscode-textPreformat-foreground); overflow-wrap: anywhere; margin: 2px 0; }
button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: 1px solid var(--vscode-button-border, transparent); padding: 2px 8px; cursor: pointer; margin: 1px 2px 1px 0; }
button.primary { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.primary:hover { background: var(--vscode-button-hoverBackground); }
.actions { margin: 6px 0; }
`;
