// Code coverage of a fuzz run, from V8's precise block coverage over the inspector protocol: the number of distinct
// code blocks (V8's basic-block ranges: branches, loop bodies, function bodies) under src/ that the run's inputs
// executed. fast-check does not steer by it (it is not coverage-guided); the count shows how much of each parser the
// mutated inputs reach, and a drop between runs shows seeds that stopped reaching a path.

import { Session } from 'node:inspector/promises';
import * as path from 'node:path';

const SRC = `${path.resolve(__dirname, '..', '..', 'src')}${path.sep}`;

interface BlockRange { startOffset: number; endOffset: number; count: number }
interface ScriptCoverage { url: string; functions: Array<{ ranges: BlockRange[] }> }

export class BlockCoverage {
  private readonly session = new Session();

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  /** Blocks under src/ executed since the last call (taking precise coverage resets V8's counters). */
  async coveredBlocks(): Promise<number> {
    const { result } = (await this.session.post('Profiler.takePreciseCoverage')) as unknown as { result: ScriptCoverage[] };
    let blocks = 0;
    for (const script of result) {
      const file = script.url.startsWith('file://') ? new URL(script.url).pathname : script.url;
      if (!file.startsWith(SRC)) continue;
      for (const fn of script.functions) blocks += fn.ranges.filter((r) => r.count > 0).length;
    }
    return blocks;
  }

  async stop(): Promise<void> {
    await this.session.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }
}
