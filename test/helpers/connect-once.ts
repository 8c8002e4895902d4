/**
 * One Connect as a new key, from wherever this runs (e.g. inside a machine's network
 * namespace, where the test process cannot reach): prints how it ended as one JSON
 * line, {"code": "<status name>", "details": "..."}.
 * Usage: node dist/test/helpers/connect-once.js <config file> <address> <user>
 */
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../../lib/common/config';
import { userChannelCredentials } from '../../lib/common/transport-security';
import { authedChatClient, Keyring } from '../../lib/client/identity';

const [configFile, address, user] = process.argv.slice(2);
const client = authedChatClient(address, new Keyring(), {}, userChannelCredentials(loadConfig(configFile)));
client.Connect({ user }, { deadline: Date.now() + 20_000 }, (err) => {
  process.stdout.write(`${JSON.stringify({ code: grpc.status[err?.code ?? grpc.status.OK], details: err?.details ?? '' })}\n`);
  client.close();
});
