/**
 * Builds activities/mix/minhash.wasm from activities/mix/minhash.wat with npm `wabt` (a dev
 * dependency): `npm run build:wasm`. The binary is committed so that running bottega needs no
 * build step; test/unit/mix-minhash-wasm.test.ts rebuilds it and fails if the bytes differ from
 * the committed file (someone edited the .wat and forgot to rebuild).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

/** The WebAssembly text source of the MinHash kernel. */
export const MINHASH_WAT = fileURLToPath(new URL('../activities/mix/minhash.wat', import.meta.url));
/** The committed binary, loaded by activities/mix/minhash-wasm.ts. */
export const MINHASH_WASM = fileURLToPath(new URL('../activities/mix/minhash.wasm', import.meta.url));

/** Assembles and validates `watPath`; throws wabt's error (file, line, column) when it does not. */
export async function buildMinHashWasm(watPath = MINHASH_WAT): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('minhash.wat', readFileSync(watPath, 'utf8'), { bulk_memory: true, simd: true });
  try {
    mod.validate();
    // no names section: the bytes depend on the code only
    return mod.toBinary({ write_debug_names: false }).buffer;
  } finally {
    mod.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildMinHashWasm().then(
    (bytes) => {
      writeFileSync(MINHASH_WASM, bytes);
      console.log(`wrote ${MINHASH_WASM} (${bytes.length} bytes)`);
    },
    (e: unknown) => {
      console.error(`build:wasm: ${MINHASH_WAT}: ${(e as Error).message}`);
      process.exit(1);
    }
  );
}
