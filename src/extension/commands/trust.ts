// The commands that write models or run them, refused in Restricted Mode by the command funnel. This file imports
// nothing, so the e2e Restricted Mode run reads the same list and checks that each of these commands is refused.

/** Command ids that need a trusted workspace: merge, generation, anything that writes weights or executes a model. */
export const TRUST_REQUIRING_COMMANDS: readonly string[] = [
  'loraWorkbench.mergeAdapter',
  // Evaluate Checkpoints runs the base and every checkpoint on the user's data (and writes the run's eval cache).
  'loraWorkbench.evaluateCheckpoints',
  // Preview Generation is not listed: its panel opens in Restricted Mode and explains why it will not run (tested in
  // test/e2e/restricted/restrictedMode.test.ts), and its host re-checks trust before every run.
];

export function requiresTrust(commandId: string): boolean {
  return TRUST_REQUIRING_COMMANDS.includes(commandId);
}
