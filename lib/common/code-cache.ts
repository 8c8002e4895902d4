/**
 * Runs a CommonJS script through a V8 code cache kept beside it (node 20 has no
 * module.enableCompileCache): bin/fbs runs the bundled dist/bin/fbs.js so. Every
 * server process compiles the same bundle on its start, and a master kill puts two
 * such starts (the master's, then a worker's) on the user's time; with the cache,
 * the functions a process of its kind compiled last time come ready.
 *
 * One cache per kind of process (its command and FBS_ROLE), written a few seconds
 * after the start (its start-up functions compiled by then) when there was none or
 * V8 refused it (another build). Best effort: a dist that cannot be written runs
 * without. The cache is as trusted as the script beside it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** After this long a process has compiled its start-up path. */
const WRITE_AFTER_MS = 5_000;

export function runCached(file: string, kind: string): void {
  const cacheFile = `${file}.${kind.replace(/[^a-z0-9-]/gi, '_')}.cache`;
  const source = readFileSync(file, 'utf8');
  const cachedData = readCache(cacheFile);
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) setTimeout(() => writeCache(script, cacheFile), WRITE_AFTER_MS).unref();
  const mod = { exports: {}, filename: file, id: file, loaded: false };
  const fn = script.runInThisContext() as (exports: object, req: NodeJS.Require, module: object, filename: string, dir: string) => void;
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
}

function readCache(cacheFile: string): Buffer | undefined {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined; // none yet, or another user's (written owner-only)
  }
}

function writeCache(script: Script, cacheFile: string): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    // a read-only install runs without it
  }
}
