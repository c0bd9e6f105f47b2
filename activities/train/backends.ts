import type { SlurmClusterConfig, SlurmPollConfig } from '../../contracts';
import type { SlurmBackend } from './backend';
import { CliBackend } from './cli-backend';
import { localFiles, remoteFiles } from './files';
import { JobPoller } from './poller';
import { RestBackend } from './rest-backend';
import { localRunner, sshRunner } from './runner';

/** Builds the backend a cluster config names. */
export function createBackend(cluster: SlurmClusterConfig, env: NodeJS.ProcessEnv, home: string): SlurmBackend {
  switch (cluster.backend) {
    case 'cli':
      return new CliBackend('cli', 'cli:local', localRunner(), localFiles());
    case 'ssh': {
      const ssh = cluster.ssh!;
      const runner = sshRunner(ssh, env, home);
      return new CliBackend('ssh', `ssh:${ssh.user}@${ssh.host}:${ssh.port}`, runner, remoteFiles(runner));
    }
    case 'rest':
      return new RestBackend(cluster.rest!, env, localFiles());
  }
}

/** Backends and their pollers, shared by all activities of one worker process. */
export class BackendRegistry {
  private readonly backends = new Map<string, SlurmBackend>();
  private readonly pollers = new Map<string, JobPoller>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly home: string,
    /** How a backend is built (tests inject fakes). */
    private readonly factory: typeof createBackend = createBackend
  ) {}

  /** The (cached) backend of a cluster config. */
  backend(cluster: SlurmClusterConfig): SlurmBackend {
    const k = JSON.stringify(cluster);
    let b = this.backends.get(k);
    if (!b) {
      b = this.factory(cluster, this.env, this.home);
      this.backends.set(k, b);
    }
    return b;
  }

  /** The one poller of a cluster: every monitor of this worker on that cluster shares it. */
  poller(cluster: SlurmClusterConfig, poll: SlurmPollConfig): JobPoller {
    const b = this.backend(cluster);
    const k = `${b.key}|${poll.initial_s}|${poll.max_s}`;
    let p = this.pollers.get(k);
    if (!p) {
      p = new JobPoller(b, { initialMs: poll.initial_s * 1000, maxMs: poll.max_s * 1000 });
      this.pollers.set(k, p);
    }
    return p;
  }
}
