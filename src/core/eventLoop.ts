// One event-loop turn for long-running core loops (scan, merge), so the host's queued messages and I/O run between
// steps: setImmediate where the host has it (Node, the extension host, workers), setTimeout elsewhere.

/**
 * setImmediate runs after pending I/O and messages (an engine/cancel) without the >= 1 ms clamp of setTimeout, which
 * left the scan idle ~8% of its wall time and cost a merge two clamps per tensor (65 ms of an 18 ms small merge).
 */
export const yieldTurn: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function' ? (fn) => (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate(fn) : (fn) => void setTimeout(fn, 0);

export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => yieldTurn(resolve));
}
