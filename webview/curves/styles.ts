// Styles of the training-curves webview, injected as a <style nonce> (CSP forbids inline styles without it).
// Every colour is a VS Code theme variable, so light, dark and high-contrast themes work unchanged.

export const CURVES_CSS = `
body { padding: 8px 16px; color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 16px; margin-bottom: 8px; }
header h1 { font-size: 1.2em; font-weight: 600; margin: 0; }
header .source { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.controls { display: flex; align-items: center; gap: 16px; }
.controls input[type="range"] { accent-color: var(--vscode-button-background); width: 120px; }
.legend { display: flex; gap: 14px; margin: 4px 0 8px; color: var(--vscode-descriptionForeground); }
.legend .swatch { display: inline-block; width: 14px; height: 3px; margin-right: 5px; vertical-align: middle; }
.chart-host { position: relative; margin-bottom: 10px; }
.chart { display: block; overflow: visible; }
.chart-title { fill: var(--vscode-foreground); font-weight: 600; font-size: 12px; }
.axis-title { fill: var(--vscode-descriptionForeground); font-size: 11px; }
.tick { fill: var(--vscode-descriptionForeground); font-size: 10px; font-variant-numeric: tabular-nums; }
.grid line { stroke: var(--vscode-editorWidget-border, var(--vscode-panel-border)); stroke-opacity: 0.35; stroke-width: 1; }
.frame { fill: none; stroke: var(--vscode-editorWidget-border, var(--vscode-panel-border)); stroke-opacity: 0.6; }
.no-data { fill: var(--vscode-descriptionForeground); }
.series { fill: none; stroke-width: 1.5; stroke-linejoin: round; }
.series.raw { stroke-opacity: 0.3; }
.dot { stroke: none; }
.series-loss, .swatch.series-loss { stroke: var(--vscode-charts-blue); background: var(--vscode-charts-blue); }
.series-evalLoss, .swatch.series-evalLoss { stroke: var(--vscode-charts-orange); background: var(--vscode-charts-orange); }
.dot.series-evalLoss { fill: var(--vscode-charts-orange); }
.series-learningRate, .swatch.series-learningRate { stroke: var(--vscode-charts-green); background: var(--vscode-charts-green); }
.series-gradNorm, .swatch.series-gradNorm { stroke: var(--vscode-charts-purple); background: var(--vscode-charts-purple); }
.series-dataLoss, .swatch.series-dataLoss { stroke: var(--vscode-charts-red); background: var(--vscode-charts-red); }
.dot.series-dataLoss { fill: var(--vscode-charts-red); }
.whisker { stroke-width: 1; stroke-opacity: 0.6; }
.best-ring { fill: none; stroke: var(--vscode-charts-yellow); stroke-width: 2; }
.series-dataBase, .swatch.series-dataBase { stroke: var(--vscode-descriptionForeground); background: var(--vscode-descriptionForeground); }
.series.dashed { stroke-dasharray: 5 4; }
.data-best { color: var(--vscode-charts-yellow); margin: 0 0 4px; }
.ckpt { stroke: var(--vscode-descriptionForeground); stroke-opacity: 0.45; stroke-dasharray: 3 3; cursor: pointer; }
.ckpt.best { stroke: var(--vscode-charts-yellow); stroke-opacity: 0.9; stroke-dasharray: none; stroke-width: 1.5; }
.best-star { fill: var(--vscode-charts-yellow); font-size: 13px; }
.crosshair { stroke: var(--vscode-editorCursor-foreground, var(--vscode-foreground)); stroke-opacity: 0.5; }
.readout { position: absolute; top: 20px; white-space: pre; pointer-events: none; padding: 4px 6px; font-size: 11px;
  background: var(--vscode-editorHoverWidget-background); color: var(--vscode-editorHoverWidget-foreground);
  border: 1px solid var(--vscode-editorHoverWidget-border); }
`;
