// Extension entry: creates the log channel and the engine host, registers commands, views and language features.
// Everything registered is owned by context.subscriptions.

import * as vscode from 'vscode';
import { CRASH_KINDS, DebugCrash, Probe, TEST_HOOKS_ENV, type CrashKind, type ProbeResult } from '../engine/protocol';
import { registerCommand } from './commands/funnel';
import { EngineHost } from './engineHost';
import { createLog, log } from './platform/log';
import type { CheckpointIndex } from './views/checkpointIndex';
import { registerDiagnoseCommand } from './language/diagnoseCommand';
import { registerDiagnosis } from './language/registerDiagnosis';
import { registerPreview } from './preview/register';
import { registerGgufExport } from './commands/gguf';
import { registerMerge } from './commands/merge';
import { registerCheckpoints } from './views/registerCheckpoints';
import { registerEvaluate } from './commands/evaluate';
import { registerAnatomy } from './views/anatomyPanel';
import { registerDeployPlan } from './views/deployPanel';
import { EvalResults } from './views/evalResults';

/** What the extension exports to other extensions and to the in-host tests. */
export interface LoraWorkbenchApi {
  probeEngine(): Promise<ProbeResult>;
  /** Scanned runs/checkpoints/adapters/models of the workspace, kept current by file watchers. */
  readonly checkpoints: CheckpointIndex;
}

export function activate(context: vscode.ExtensionContext): LoraWorkbenchApi {
  context.subscriptions.push(createLog());
  const engine = new EngineHost(context.extensionPath);
  context.subscriptions.push(engine);
  const evalResults = new EvalResults();
  context.subscriptions.push(evalResults);
  const checkpoints = registerCheckpoints(context, evalResults); // CheckpointIndex: workspace runs/adapters + onDidChange, for preview/merge/diagnose
  const diagnostics = registerDiagnosis(context); // base-model diagnostics, hovers, quick fixes on adapter_config.json (issue 4)
  context.subscriptions.push(registerDiagnoseCommand(diagnostics, checkpoints)); // "Diagnose Base Model" on checkpoints and adapters (issue 13)
  const preview = registerPreview(context, engine, checkpoints); // "Preview Generation...": base vs adapters side by side (issue 8)
  registerMerge(context, engine, checkpoints); // "Merge into Base Model...": streaming exact merge in the engine worker (issue 5)
  registerEvaluate(context, engine, preview.models, checkpoints, evalResults); // "Evaluate Checkpoints...": loss on the user's data per checkpoint (issue 20)
  registerAnatomy(context, checkpoints); // "Show Adapter Anatomy" / "Compare Adapter Anatomy...": what each module's update is (issue 20)
  registerGgufExport(context, engine, checkpoints); // "Export to GGUF...": llama.cpp-identical GGUF, merged or alone (issue 16)
  registerDeployPlan(context, checkpoints); // "Plan Deployment...": shared base vs merged vs GGUF with this adapter's sizes (issue 16)

  const probeEngine = (): Promise<ProbeResult> => engine.get().request(Probe, { webgpu: true });

  context.subscriptions.push(
    registerCommand('loraWorkbench.probeEngine', vscode.l10n.t('Probe Compute Engine'), async () => {
      const r = await probeEngine();
      log().info(`engine/probe: ${JSON.stringify(r)}`);
      const gpu = r.webgpu.available ? r.webgpu.adapter ?? '' : vscode.l10n.t('unavailable');
      void vscode.window.showInformationMessage(
        vscode.l10n.t('Engine ready: backends {0}; WASM SIMD {1}, threads {2}; WebGPU {3}.', r.backends.join(', '), String(r.simd), String(r.threads), gpu),
      );
      return r;
    }),
    registerCommand('loraWorkbench.showLog', vscode.l10n.t('Show Log'), () => log().show()),
  );

  if (process.env[TEST_HOOKS_ENV] === '1') registerTestHooks(context, engine);

  void vscode.commands.executeCommand('setContext', 'loraWorkbench.activated', true);
  log().info(`LoRA Workbench activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'in Restricted Mode'})`);
  return { probeEngine, checkpoints };
}

/**
 * Test-only palette command (the e2e runner sets LORA_WORKBENCH_TEST_HOOKS=1): arms engine/debugCrash so that the
 * engine worker dies at the 16th token of the next generation ('exit'; tests may pass another kind and count), which
 * lets the e2e kill a preview run mid-way and check what a user sees. afterTokens 0 crashes at once.
 */
function registerTestHooks(context: vscode.ExtensionContext, engine: EngineHost): void {
  void vscode.commands.executeCommand('setContext', 'loraWorkbench.testHooks', true);
  context.subscriptions.push(registerCommand('loraWorkbench.testCrashEngine', vscode.l10n.t('Test: Crash the Engine Worker'), async (kind: unknown, afterTokens: unknown) => {
    const k: CrashKind = CRASH_KINDS.includes(kind as CrashKind) ? (kind as CrashKind) : 'exit';
    const n = typeof afterTokens === 'number' ? afterTokens : 16;
    log().info(`test hook: the engine worker crashes (${k}) ${n > 0 ? `at the ${n}th token from now` : 'now'}`);
    // At once, the request is rejected with 'worker-died': the funnel keeps that quiet (EngineHost notified).
    await engine.get().request(DebugCrash, { kind: k, ...(n > 0 ? { afterTokens: n } : {}) });
  }));
}

export function deactivate(): void {
  // Owned disposables (engine worker included) are released by VS Code through context.subscriptions.
}
