import { STAGES, type StageName } from './spec';
import type { SweepSpec } from './sweep';

/** One arm of an expanded sweep. */
export interface ExpandedArm {
  index: number;
  /** Experiment id of the arm: `<sweep id>-<NN>`. */
  id: string;
  name: string;
  /** The spec paths this arm sets, in the order they were applied. */
  params: Record<string, unknown>;
  /** The arm's experiment spec (not yet validated). */
  spec: Record<string, unknown>;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * Sets `path` (dotted; numbers index arrays) in `obj` to a copy of `value`, creating objects on
 * the way; `null` removes an object key. Throws with the path when it cannot be applied.
 */
export function setSpecPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: unknown = obj;
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    const isIndex = /^\d+$/.test(part);
    if (Array.isArray(cur) !== isIndex || cur === null || typeof cur !== 'object')
      throw new Error(
        `${path}: "${parts.slice(0, i).join('.') || '(spec)'}" is ${Array.isArray(cur) ? 'a list (use a number)' : 'not a list'}`
      );
    const box = cur as Record<string, unknown>;
    if (isIndex && Number(part) > (cur as unknown[]).length)
      throw new Error(`${path}: index ${part} is past the end of the list (${(cur as unknown[]).length} items)`);
    if (last) {
      if (value === null) {
        if (isIndex) throw new Error(`${path}: null cannot remove a list item; set the whole list instead`);
        delete box[part];
      } else box[part] = clone(value);
      return;
    }
    if (box[part] === undefined || box[part] === null) box[part] = /^\d+$/.test(parts[i + 1]!) ? [] : {};
    cur = box[part];
  }
}

/** Every combination of the grid's values, keys in sorted order (the last key varies fastest). */
export function gridCombinations(grid: Record<string, unknown[]>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const key of Object.keys(grid).sort())
    combos = combos.flatMap((c) => (grid[key] ?? []).map((v) => ({ ...c, [key]: v })));
  return combos;
}

const short = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Expands a sweep into its arms, deterministically: listed arms (in order) crossed with the grid
 * combinations. Throws an Error naming the arm and path when a path cannot be set.
 */
export function expandSweep(sweep: Pick<SweepSpec, 'id' | 'description' | 'base' | 'arms' | 'grid'>): ExpandedArm[] {
  const listed = sweep.arms.length ? sweep.arms : [{ name: '', set: {} }];
  const combos = gridCombinations(sweep.grid);
  const total = listed.length * combos.length;
  const width = Math.max(2, String(total - 1).length);
  const arms: ExpandedArm[] = [];
  for (const arm of listed)
    for (const combo of combos) {
      const index = arms.length;
      const id = `${sweep.id}-${String(index).padStart(width, '0')}`;
      const params = { ...arm.set, ...combo };
      const gridLabel = Object.entries(combo)
        .map(([k, v]) => `${k}=${short(v)}`)
        .join(', ');
      const name = [arm.name, gridLabel].filter(Boolean).join(' · ') || 'base';
      const spec = clone(sweep.base);
      for (const [path, value] of Object.entries(params)) {
        try {
          setSpecPath(spec, path, value);
        } catch (e) {
          throw new Error(`arm ${index} (${name}): ${(e as Error).message}`);
        }
      }
      spec.id = id;
      spec.sweep_id = sweep.id;
      spec.description = [sweep.description, `arm ${name}`].filter(Boolean).join(' — ');
      arms.push({ index, id, name, params, spec });
    }
  return arms;
}

/** JSON with object keys sorted, so equal values print equally. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** A 53-bit string hash (cyrb53), as 14 hex digits: short keys for signatures. Not cryptographic. */
export function hash53(s: string, seed = 0): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/**
 * The signature of each enabled stage of a (parsed) experiment spec: equal signatures mean equal
 * stage inputs (the stage's config, every earlier stage's config, the store), so the step cache
 * serves one arm's result to the other. A forced stage gets a signature of its own.
 */
export function stageSignatures(
  spec: { id: string; store: unknown; force: readonly StageName[] } & Partial<Record<StageName, unknown>>
): Partial<Record<StageName, string>> {
  const out: Partial<Record<StageName, string>> = {};
  const prefix: unknown[] = [spec.store];
  let forced = false;
  for (const stage of STAGES) {
    prefix.push(spec[stage] ?? null);
    if (spec.force.includes(stage)) forced = true;
    if (spec[stage] === undefined) continue;
    // A forced stage (and everything after it) is rerun by this arm alone.
    out[stage] = `${stage}:${hash53(stableJson(prefix) + (forced ? `\0forced:${spec.id}` : ''))}`;
  }
  return out;
}
