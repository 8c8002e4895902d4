/**
 * A user's key file: an Ed25519 private key in PKCS#8 PEM (what `openssl genpkey
 * -algorithm ed25519` writes), one file per user name in the user's config
 * directory, `$XDG_CONFIG_HOME/ftchat/<user>.key` or `~/.config/ftchat/<user>.key`.
 * Made on first use, readable only by its owner (dir 0700, file 0600), like an SSH
 * key; and, as ssh does, a key file other accounts could read is refused.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Identity } from './identity';

export class KeyFileError extends Error {}

/** The directory of key files: $XDG_CONFIG_HOME/ftchat, else ~/.config/ftchat (relative XDG values are ignored, as the spec says). */
export function keyDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config'), 'ftchat');
}

export function defaultKeyFile(user: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(keyDir(env), `${user}.key`);
}

/**
 * `user`'s identity from `file` (which must exist), or from the default key file,
 * made there first if there is none.
 */
export function loadIdentity(user: string, file?: string, env: NodeJS.ProcessEnv = process.env): Identity {
  if (file !== undefined) return parse(user, file, read(file, `no key file at ${file}`));
  const path = defaultKeyFile(user, env);
  let pem = readIfAny(path);
  if (pem === null) {
    const dir = keyDir(env);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const fresh = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    try {
      writeFileSync(path, fresh, { mode: 0o600, flag: 'wx' });
      pem = fresh;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new KeyFileError(`cannot write ${path}: ${(err as Error).message}`);
      pem = read(path, `no key file at ${path}`); // another fbc made it a moment ago
    }
  }
  return parse(user, path, pem);
}

/** The key file's text, to carry to another computer (`fbc --export-key`). */
export function exportKey(user: string, file?: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = file ?? defaultKeyFile(user, env);
  const pem = read(path, `no key for ${user} at ${path}: connect once first, or give --key FILE`);
  parse(user, path, pem);
  return pem;
}

function parse(user: string, path: string, pem: string): Identity {
  try {
    return new Identity(user, createPrivateKey(pem));
  } catch {
    throw new KeyFileError(`${path} is not an ftchat key file (an Ed25519 private key in PEM)`);
  }
}

function readIfAny(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8');
    ownerOnly(path);
    return text;
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KeyFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Refuses a key file that other accounts may read or change (any group or other permission bit). */
function ownerOnly(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new KeyFileError(`${path} can be read by other accounts (mode ${mode.toString(8).padStart(4, '0')}): run chmod 600 ${path}`);
}

function read(path: string, missing: string): string {
  const pem = readIfAny(path);
  if (pem === null) throw new KeyFileError(missing);
  return pem;
}
