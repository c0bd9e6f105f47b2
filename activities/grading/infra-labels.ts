/** Advisory SWE-bench 5.0 labels for what went wrong around the tests (never change the denominator). */
const LABELS: [label: string, pattern: RegExp][] = [
  ['out_of_memory', /\bOOMKilled\b|Cannot allocate memory|\bout of memory\b|^Killed$/im],
  [
    'network_unreachable',
    /Network is unreachable|Temporary failure in name resolution|Could not resolve host|Name or service not known/i,
  ],
  ['display_unavailable', /cannot open display|no display name and no \$DISPLAY/i],
  ['browser_launch_failed', /Failed to launch (?:the )?browser|browserType\.launch/i],
  ['container_unavailable', /No such container|container .* is not running/i],
  ['missing_module', /ModuleNotFoundError: No module named|ImportError: No module named/],
];

/**
 * Labels a failed run's output with the first matching infra tier (`out_of_memory`,
 * `network_unreachable`, `display_unavailable`, `browser_launch_failed`, `container_unavailable`)
 * or ambiguous tier (`missing_module`) label; exit code 137 means `out_of_memory`. Null when none fits.
 */
export function infraLabel(output: string, exitCode: number | null = null): string | null {
  if (exitCode === 137) return 'out_of_memory';
  for (const [label, pattern] of LABELS) if (pattern.test(output)) return label;
  return null;
}
