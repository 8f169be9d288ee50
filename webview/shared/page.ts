// Shared start of every webview page: the root element the host's HTML shell writes (platform/webviewHtml.ts) and the
// page's styles injected as a <style> carrying the shell's nonce (the CSP forbids inline styles without it).

export function mountPage(css: string): HTMLElement {
  const app = document.getElementById('app')!;
  const style = document.createElement('style');
  style.nonce = app.dataset.nonce ?? '';
  style.textContent = css;
  document.head.appendChild(style);
  return app;
}

/** An element with an optional class and text: the pages build their DOM from these. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
