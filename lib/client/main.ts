/**
 * From fbc's parsed options to a running session: the username (asked for on a
 * terminal when -u is missing), the server list (-s, or every machine of the
 * cluster config), the user's key (read silently, or made on first use), then the
 * session itself. Bad input is one line and exit code 2.
 */
import { existsSync, rmSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import readlineSync from 'readline-sync';
import { clientAddresses, ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from '../common/config';
import { userChannelCredentials } from '../common/transport-security';
import { usernameError } from '../core/usernames';
import { defaultKeyFile, exportKey, KeyFileError, loadIdentity } from './key-file';
import { parseServerList, ServerListError } from './server-list';
import { runClient } from './session';

export interface ClientArgs {
  user?: string;
  servers?: string;
  config?: string;
  /** The key file to use instead of the default one. */
  key?: string;
  /** Print the user's key file and exit. */
  'export-key'?: boolean;
}

export const USAGE_EXIT = 2;

export async function clientMain(args: ClientArgs, usage: string): Promise<number> {
  const terminal = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  let user = args.user;
  if (user === undefined) {
    if (!process.stdin.isTTY) {
      console.error(`error: -u <username> is required\n${usage}`);
      return USAGE_EXIT;
    }
    // A one-off question before the session starts; the session itself uses node:readline.
    user = readlineSync.question('username: ').trim();
  }
  const bad = usernameError(user);
  if (bad) {
    console.error(`error: ${bad}`);
    return USAGE_EXIT;
  }
  let identity;
  // A key made now and refused by the servers (the name is another key's) was never
  // registered: it is removed, so a refused person keeps no key for a name not theirs.
  const keyMadeNow = args.key === undefined && !args['export-key'] && !existsSync(defaultKeyFile(user)) ? defaultKeyFile(user) : null;
  try {
    if (args['export-key']) {
      process.stdout.write(exportKey(user, args.key));
      return 0;
    }
    identity = loadIdentity(user, args.key);
  } catch (err) {
    if (!(err instanceof KeyFileError)) throw err;
    console.error(`error: ${err.message}`);
    return USAGE_EXIT;
  }
  let servers: string[];
  let credentials: grpc.ChannelCredentials;
  try {
    // The config is read with -s too: it says where the cluster's CA certificate is.
    const config = loadConfig(args.config ?? DEFAULT_CONFIG_FILE);
    servers = args.servers !== undefined ? parseServerList(args.servers) : clientAddresses(config);
    credentials = userChannelCredentials(config);
  } catch (err) {
    if (!(err instanceof ServerListError || err instanceof ConfigError)) throw err;
    console.error(`error: ${err.message}`);
    return USAGE_EXIT;
  }
  const onRefused = keyMadeNow ? () => rmSync(keyMadeNow, { force: true }) : undefined;
  return runClient({ identity, servers, credentials, onRefused, input: process.stdin, output: process.stdout, errors: process.stderr, terminal });
}
