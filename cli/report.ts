import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { collectReport, ReportError } from '../report/collect';
import { renderHtml, renderMarkdown } from '../report/render';

export interface ReportOptions {
  /** Output directory (default `reports/`). */
  out?: string;
  format?: 'html' | 'md' | 'both';
  /** Environment for the artifact store (S3 settings); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A workflow id as a file name: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
export function reportFileBase(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

/**
 * `bottega report ID`: writes `<out>/<id>.html` and/or `<out>/<id>.md` for a finished experiment or
 * sweep and prints their paths. Returns 0, or 1 with a message when the workflow does not exist,
 * has not completed, or is neither an experiment nor a sweep.
 */
export async function reportCommand(
  client: Client,
  id: string,
  opts: ReportOptions,
  io: { out: (s: string) => void; err: (s: string) => void }
): Promise<number> {
  const format = opts.format ?? 'both';
  if (!['html', 'md', 'both'].includes(format)) {
    io.err(`unknown format "${format}": use html, md or both`);
    return 1;
  }
  let data;
  try {
    data = await collectReport(client, id, opts.env ?? process.env);
  } catch (e) {
    if (e instanceof ReportError) {
      io.err(`cannot report on ${id}: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const dir = resolve(opts.out ?? 'reports');
  await mkdir(dir, { recursive: true });
  const base = join(dir, reportFileBase(id));
  if (format !== 'md') {
    await writeFile(`${base}.html`, renderHtml(data));
    io.out(`${base}.html`);
  }
  if (format !== 'html') {
    await writeFile(`${base}.md`, renderMarkdown(data));
    io.out(`${base}.md`);
  }
  for (const w of data.warnings) io.err(`warning: ${w}`);
  return 0;
}
