/**
 * The command lines ftchat's server processes start each other with, built in one
 * place and read back from /proc/<pid>/cmdline in one place:
 * `fbs <verb> --machine M [--slot N] --config FILE`. Finding a cluster's processes by
 * pid (fbs stop, fencing, the tests' reaper) depends on both agreeing.
 */
export type ServerVerb = 'start' | 'guardian' | 'build-checkpoint';

export interface ServerCommand {
  verb: ServerVerb;
  machine: string;
  /** The cluster's config file. */
  config: string;
  /** A guardian's slot. */
  slot?: number;
}

/** `fbsCommand`: how this process runs fbs (node and the script, or bin/fbs). */
export function serverCommandLine(fbsCommand: string[], c: ServerCommand): { cmd: string; args: string[] } {
  const [cmd, ...pre] = fbsCommand;
  const slot = c.slot === undefined ? [] : ['--slot', String(c.slot)];
  return { cmd, args: [...pre, c.verb, '--machine', c.machine, ...slot, '--config', c.config] };
}

/** What a command line says; `verb` null when no fbs script is on it (a wrapper such as faketime). */
export interface CommandLine {
  verb: string | null;
  machine?: string;
  config?: string;
  slot?: string;
}

/** bin/fbs, node_modules/.bin/fbs or dist/bin/fbs.js: the word after it is the fbs command. */
const FBS_SCRIPT = /(^|\/)fbs(\.js)?$/;

export function readCommandLine(argv: string[]): CommandLine {
  const script = argv.findIndex((a) => FBS_SCRIPT.test(a));
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  return { verb: script >= 0 ? (argv[script + 1] ?? '') : null, machine: flag('machine'), config: flag('config'), slot: flag('slot') };
}
