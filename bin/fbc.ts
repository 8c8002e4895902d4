/** fbc: the chat client. Parses its options and runs lib/client. */
import { parseArgs } from 'node:util';
import { errorMessage } from '../lib/common/log';
import { clientMain, USAGE_EXIT } from '../lib/client/main';

const USAGE = `usage: fbc -u <username> [-s host:port,host:port,...] [-c cluster.json] [--key FILE]
       fbc -u <username> --export-key [--key FILE] > FILE
  -u, --user <name>       your username: 1-32 of A-Z a-z 0-9 _ . - (not starting with . or -)
  -s, --servers <list>    servers in order of preference (default: every machine in the config)
  -c, --config <file>     cluster config (default: cluster.json in the repository)
  --key <file>            your key file (default: $XDG_CONFIG_HOME/ftchat/<name>.key, or
                          ~/.config/ftchat/<name>.key, made on first use)
  --export-key            print your key file, to carry to another computer (then --key FILE there)
  -h, --help              this help`;

function exit(code: number): void {
  // Let stdout drain (it may be a pipe) before exiting.
  process.stdout.write('', () => process.exit(code));
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        user: { type: 'string', short: 'u' },
        servers: { type: 'string', short: 's' },
        config: { type: 'string', short: 'c' },
        key: { type: 'string' },
        'export-key': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`error: ${errorMessage(err).split('\n')[0]}\n${USAGE}`); // parseArgs explains over several lines
    return USAGE_EXIT;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  return clientMain(values, USAGE);
}

process.on('uncaughtException', (err) => {
  console.error(`error: ${errorMessage(err)}`);
  process.exit(1);
});
main().then(exit, (err: unknown) => {
  console.error(`error: ${errorMessage(err)}`);
  exit(1);
});
