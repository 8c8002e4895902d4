/**
 * Transport security: the credentials every gRPC server and client of ftchat uses,
 * built in this one place from the files `fbs init` writes beside the config
 * (see cluster-init.ts), and the decision whether a machine may start with what it has.
 *
 * - Machine ports (admin, guardian, peer) speak mutual TLS: the server requires a
 *   certificate from the cluster CA, and a client presents its machine's certificate.
 * - The client port speaks server-side TLS: fbc checks the server against the cluster
 *   CA; users prove who they are with their keys, not with certificates.
 * - `"tls": false` in the config (loopback only) is plaintext, e.g. a benchmark's baseline.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, type ClusterConfig } from './config';

/**
 * grpc-js sends a target's host as the TLS server name even when it is an IP address
 * (grpc/grpc-node#1919, open), and node then warns once per process (DEP0123) on
 * stderr, where fbc's one-line errors and the servers' JSON logs go. The name is only
 * sent, never relied on: the server's certificate is still checked against that IP.
 * So that one warning is dropped; every other passes.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
  if (code !== 'DEP0123') (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

/** The secret shipped in the repository's cluster.json: known to everyone, so refused off loopback. */
export const DEFAULT_SECRET = 'change-me-before-running-on-real-machines';
/** A cluster secret shorter than this (in bytes) is guessable; `fbs init` makes 32 random bytes. */
export const MIN_SECRET_BYTES = 32;

/** The files of a cluster's TLS directory (the secret is config.secretFile, beside them). ca.key stays on the machine that ran `fbs init`. */
export function tlsFiles(tlsDir: string): { ca: string; caKey: string; cert(m: string): string; key(m: string): string } {
  return {
    ca: join(tlsDir, 'ca.crt'),
    caKey: join(tlsDir, 'ca.key'),
    cert: (m) => join(tlsDir, `${m}.crt`),
    key: (m) => join(tlsDir, `${m}.key`),
  };
}

/** The files a machine needs to start with TLS (beside the secret). */
export function machineTlsFiles(tlsDir: string, machine: string): string[] {
  const f = tlsFiles(tlsDir);
  return [f.ca, f.cert(machine), f.key(machine)];
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** What a machine knows about itself at start: gathered by the shell, judged by transportVerdict. */
export interface TransportFacts {
  /** Hosts of every machine of the config. */
  hosts: string[];
  tls: boolean;
  secret: string;
  /** The TLS files this machine needs that are missing. */
  missing: string[];
  /** Whether the TLS directory exists at all (then a loopback start never replaces it). */
  tlsDirExists: boolean;
}

export type TransportVerdict = { action: 'start' } | { action: 'init' } | { action: 'refuse'; reason: string };

/**
 * Loopback-only configs keep working with no set-up step: their first start runs
 * `fbs init` itself. A config with any other host must have been set up: a strong
 * secret and the TLS files, or it refuses to start (one line saying why).
 */
export function transportVerdict(f: TransportFacts): TransportVerdict {
  const outside = f.hosts.filter((h) => !isLoopbackHost(h));
  if (outside.length === 0) {
    if (!f.tls || f.missing.length === 0) return { action: 'start' };
    if (!f.tlsDirExists) return { action: 'init' };
    return { action: 'refuse', reason: `TLS files missing: ${f.missing.join(', ')} (the TLS directory exists, so it is not replaced; run fbs init --force to make new ones)` };
  }
  const where = `machine host ${outside[0]} is not loopback`;
  if (!f.tls) return { action: 'refuse', reason: `"tls": false is allowed on loopback only, and ${where}` };
  if (f.secret === '') return { action: 'refuse', reason: `the cluster secret is empty and ${where}: run fbs init` };
  if (f.secret === DEFAULT_SECRET) return { action: 'refuse', reason: `the cluster secret is the well-known default and ${where}: run fbs init` };
  const bytes = Buffer.byteLength(f.secret);
  if (bytes < MIN_SECRET_BYTES) return { action: 'refuse', reason: `the cluster secret is ${bytes} bytes, fewer than ${MIN_SECRET_BYTES}, and ${where}: run fbs init` };
  if (f.missing.length > 0) return { action: 'refuse', reason: `TLS files missing: ${f.missing.join(', ')}; ${where}: run fbs init on one machine and copy the files (see README, Security)` };
  return { action: 'start' };
}

/** Read afresh for each channel or server (a few hundred bytes; a channel costs a handshake anyway), so a new `fbs init` is seen. */
function pem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (fbs init creates it)`);
  }
}

function keyPair(config: ClusterConfig, machine: string): grpc.KeyCertPair {
  const f = tlsFiles(config.tlsDir);
  return { private_key: pem(f.key(machine), `${machine}'s TLS key`), cert_chain: pem(f.cert(machine), `${machine}'s certificate`) };
}

export function caCert(config: ClusterConfig): Buffer {
  return pem(tlsFiles(config.tlsDir).ca, "the cluster's CA certificate");
}

/**
 * The client port of `machine`'s workers: TLS with the machine's certificate; clients bring no certificate.
 * The CA is given only so that node does not load its default root store (about 20 ms of CPU in every
 * worker's start): no client certificate is asked for, so nothing is checked against it.
 */
export function clientPortCredentials(config: ClusterConfig, machine: string): grpc.ServerCredentials {
  if (!config.tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(caCert(config), [keyPair(config, machine)], false);
}

/** A machine port (admin, guardian, peer) of `machine`: mutual TLS, the client's certificate must come from the cluster CA. */
export function machinePortCredentials(config: ClusterConfig, machine: string): grpc.ServerCredentials {
  if (!config.tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(caCert(config), [keyPair(config, machine)], true);
}

/** The metrics endpoint's https options (metrics.tls): the machine's certificate, as its client port has. */
export function metricsTlsOptions(config: ClusterConfig, machine: string): { key: Buffer; cert: Buffer } {
  const { private_key, cert_chain } = keyPair(config, machine);
  return { key: private_key, cert: cert_chain as Buffer };
}

/** A user's channel to a client port: the server must hold a certificate from the cluster CA. */
export function userChannelCredentials(config: ClusterConfig): grpc.ChannelCredentials {
  if (!config.tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(caCert(config));
}

/**
 * A machine's channel to another machine's port, presenting its own certificate.
 * Server processes are `machine` (FBS_MACHINE); a command run by hand (fbs status,
 * fbs stop) presents the first machine whose key this host holds.
 */
export function machineChannelCredentials(config: ClusterConfig, machine = process.env.FBS_MACHINE): grpc.ChannelCredentials {
  if (!config.tls) return grpc.credentials.createInsecure();
  const { private_key, cert_chain } = keyPair(config, machine && config.machines[machine] ? machine : heldMachine(config));
  return grpc.credentials.createSsl(caCert(config), private_key, cert_chain);
}

function heldMachine(config: ClusterConfig): string {
  const ids = Object.keys(config.machines);
  for (const m of ids) {
    try {
      pem(tlsFiles(config.tlsDir).key(m), '');
      return m;
    } catch {
      // not this host's machine
    }
  }
  throw new ConfigError(`no machine key readable in ${config.tlsDir} (machine ports need one of ${ids.map((m) => `${m}.key`).join(', ')})`);
}
