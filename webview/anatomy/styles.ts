// Styles of the adapter-anatomy webview, injected as a <style nonce>. Every colour is a VS Code theme variable; a cell's
// shade mixes the chart colour into the editor background (color-mix), so light, dark and high-contrast themes all work.

export const ANATOMY_CSS = `
body { padding: 8px 16px; color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
header h1 { font-size: 1.2em; font-weight: 600; margin: 0 0 2px; }
header .subtitle { color: var(--vscode-descriptionForeground); font-size: 0.9em; margin-bottom: 8px; }
.metrics { display: flex; gap: 6px; margin: 8px 0; }
.metrics button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: 1px solid var(--vscode-button-border, transparent); padding: 3px 10px; cursor: pointer; }
.metrics button[aria-pressed="true"] { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
table.heatmap { border-collapse: separate; border-spacing: 2px; font-variant-numeric: tabular-nums; }
.heatmap th { font-weight: 600; color: var(--vscode-descriptionForeground); padding: 2px 6px; font-size: 0.9em; }
.heatmap td.cell { min-width: 64px; height: 26px; text-align: center; font-size: 0.85em; border: 1px solid var(--vscode-editorWidget-border, transparent); }
.heatmap td.empty { color: var(--vscode-disabledForeground); text-align: center; }
.legend { display: flex; align-items: center; gap: 8px; margin: 12px 0; color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.legend .bar { width: 220px; height: 10px; border: 1px solid var(--vscode-editorWidget-border, transparent);
  background: linear-gradient(to right, var(--vscode-editor-background), var(--vscode-charts-blue)); }
.note { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.outside { margin-top: 8px; }
`;
