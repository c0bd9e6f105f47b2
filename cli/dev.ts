/** Services of the local stack, as infra/dev.sh names them (its ALL_SERVICES), with what each is. */
export const DEV_SERVICES = {
  temporal: 'Temporal dev server and Web UI',
  s3: 'S3 artifact store (SeaweedFS)',
  docker: 'Docker engine (build, rollout, evaluate)',
  slurm: 'single-node Slurm cluster with slurmrestd (train, served evaluate)',
  sshd: 'local sshd on 127.0.0.1:2222, a login node for the Slurm ssh backend',
} as const;

/** Actions of infra/dev.sh, with what each does. */
export const DEV_ACTIONS = {
  up: 'install what is missing and start (default: every service)',
  down: 'stop',
  restart: 'down, then up',
  status: 'one line per service; exit 1 if any is down',
  install: 'install only',
  env: 'print the `export ...` lines: eval "$(bottega dev env)"',
  logs: "follow one service's log (tail -f)",
} as const;

/** The `bottega dev --help` text after the usage: every action and service, one per line. */
export function devHelpText(): string {
  const rows = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `  ${k.padEnd(10)} ${v}`);
  return ['', 'Actions:', ...rows(DEV_ACTIONS), '', 'Services:', ...rows(DEV_SERVICES)].join('\n');
}
