import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { buildFromContext } from '../../activities/build/docker/build';
import { BuildContext } from '../../activities/build/docker/context';
import { listBottegaImages } from '../../activities/build/docker/gc';
import { envsList, envsPrune } from '../../cli/envs';
import { dockerOrSkip } from '../helpers/docker';

/**
 * Issue 15, defect 6 (Docker side), on the real engine: building a bottega-labelled image twice
 * under one tag leaves the first image untagged (dangling). `bottega envs ls` lists it as kind
 * `dangling` and `bottega envs prune` removes it (never a dangling image that is not bottega's,
 * never the tagged one).
 */
const probe = await dockerOrSkip();
const docker = probe.docker as Docker;
const run = randomBytes(4).toString('hex');
const cleanup: string[] = [];

/** Builds a two-file image FROM scratch (no registry needed) as `tag` with `labels`. */
async function build(tag: string, content: string, labels: Record<string, string>): Promise<string> {
  const ctx = new BuildContext();
  ctx.addData('Dockerfile', 'FROM scratch\nCOPY payload.txt /payload.txt\n');
  ctx.addData('payload.txt', content);
  const { id } = await buildFromContext(docker, ctx, { stage: 'env', tag, labels });
  cleanup.push(id);
  return id;
}

describe('dangling bottega images (real Docker)', { skip: probe.skip ?? false }, () => {
  after(async () => {
    for (const ref of cleanup.reverse())
      await docker
        .getImage(ref)
        .remove({ force: true })
        .catch(() => {});
  });

  it('a tag built twice leaves a dangling image: listed and pruned; unlabelled dangling images are not', async () => {
    const tag = `bottega/probe.acme__t4${run}:0123456789abcdef`;
    const labels = { 'bottega.kind': 'probe', 'bottega.repo': `acme/t4${run}` };
    const old = await build(tag, `first ${run}\n`, labels);
    const current = await build(tag, `second ${run}\n`, labels);
    assert.notEqual(old, current);
    assert.deepEqual((await docker.getImage(old).inspect()).RepoTags ?? [], [], 'the first build is now dangling');
    // Someone else's dangling image: same story without bottega labels.
    const foreignTag = `t4-foreign-${run}:latest`;
    const foreign = await build(foreignTag, `a ${run}\n`, { 'org.example.kind': 'other' });
    await build(foreignTag, `b ${run}\n`, { 'org.example.kind': 'other' });
    cleanup.push(foreignTag, tag);

    const listed = await listBottegaImages(docker);
    const dangling = listed.find((i) => i.id === old);
    assert.ok(dangling, 'the dangling bottega image is listed');
    assert.equal(dangling.kind, 'dangling');
    assert.equal(dangling.labels?.['bottega.repo'], `acme/t4${run}`);
    assert.ok(!listed.some((i) => i.id === foreign), 'a dangling image without bottega labels is not bottega’s');

    const ls: string[] = [];
    await envsList((s) => ls.push(s), docker);
    assert.match(
      ls.join('\n'),
      new RegExp(`dangling .*<none> ${old.slice(7, 19)} \\(dangling bottega image: bottega.kind=probe`)
    );
    assert.match(ls.join('\n'), /\d+ dangling bottega images \(.*\): `bottega envs prune` removes them first/);

    // Young leftovers are kept by default (a build may be using them); prune them here at any age.
    const dry: string[] = [];
    await envsPrune({ budgetGb: 1e6, dryRun: true, docker, failedMinAgeMs: 0 }, (s) => dry.push(s));
    assert.match(dry.join('\n'), new RegExp(`<none> ${old.slice(7, 19)}`));
    assert.match(dry.join('\n'), /would remove (\d+ failed-build leftovers \(.*\), )?\d+ dangling bottega images/);
    await docker.getImage(old).inspect(); // still there after the dry run

    const out: string[] = [];
    await envsPrune({ budgetGb: 1e6, dryRun: false, docker, failedMinAgeMs: 0 }, (s) => out.push(s));
    assert.match(out.join('\n'), /removed (\d+ failed-build leftovers \(.*\), )?\d+ dangling bottega images/);
    await assert.rejects(docker.getImage(old).inspect(), 'the dangling bottega image is removed');
    assert.equal((await docker.getImage(tag).inspect()).Id, current, 'the tagged image stays');
    assert.equal((await docker.getImage(foreign).inspect()).Id, foreign, 'the foreign dangling image stays');
  });
});
