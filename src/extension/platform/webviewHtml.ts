// The HTML shell every webview of the extension uses: a strict Content-Security-Policy with a per-load nonce, one
// bundled script from dist/webview/, and a root element the script renders into.

import * as vscode from 'vscode';

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

export interface WebviewPage {
  /** Bundle name under dist/webview/ (without .js). */
  readonly script: string;
  readonly title: string;
  /** The root element, e.g. `<main id="app" aria-busy="true">`; the nonce is added as data-nonce for inline styles. */
  readonly rootTag: 'main' | 'div';
  readonly rootAttributes?: string;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${page.script}.js`));
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${n}'`,
    // vscode-elements attach constructable stylesheets (no inline <style> needed for them); ours carries the nonce.
    `style-src ${webview.cspSource} 'nonce-${n}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  const attrs = page.rootAttributes ? ` ${page.rootAttributes}` : '';
  return `<!DOCTYPE html>
<html lang="${vscode.env.language}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${page.title}</title>
</head>
<body>
<${page.rootTag} id="app" data-nonce="${n}"${attrs}></${page.rootTag}>
<script nonce="${n}" src="${script.toString()}"></script>
</body>
</html>`;
}
