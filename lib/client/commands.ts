/**
 * What a typed line means, in command mode or chat mode. Pure: no I/O, so every
 * rule of the contract's command language is checked by unit tests.
 */
import { printable, usernameError } from '../core/usernames';

export type Mode = 'command' | 'chat';

export type Command =
  | { kind: 'join'; room: string }
  | { kind: 'leave'; room: string }
  | { kind: 'list'; prefix: string }
  | { kind: 'more' } // the next page of the last list
  | { kind: 'chat' }
  | { kind: 'help' }
  | { kind: 'exit' } // chat mode back to command mode
  | { kind: 'quit' } // disconnect, from either mode
  | { kind: 'post'; text: string }
  | { kind: 'nothing' } // blank line
  | { kind: 'error'; message: string };

export const CHAT_MODE_FOLLOW_REFUSAL = "type 'exit' to leave chat mode before joining or leaving rooms";

const HELP: Record<Mode, string[]> = {
  command: [
    'commands (case-insensitive):',
    '  join <user>    follow <user>\'s room',
    '  leave <user>   stop following <user>\'s room',
    '  list [prefix]  the rooms you follow (*), then a page of the others;',
    '                 with a prefix, only the rooms whose names start with it',
    '  more           the next page of the last list',
    '  chat           enter chat mode: recent messages, then new ones as they arrive',
    '  help           this help',
    '  leave | quit   disconnect',
  ],
  chat: [
    'chat mode: every line you type is posted to your room',
    '  exit           back to command mode',
    '  help           this help',
    '  leave | quit   disconnect',
  ],
};

export function helpLines(mode: Mode): string[] {
  return HELP[mode];
}

export function parseLine(line: string, mode: Mode): Command {
  const text = line.trim();
  if (text === '') return { kind: 'nothing' };
  const [word, ...args] = text.split(/\s+/);
  const verb = word.toLowerCase();
  return mode === 'chat' ? parseChat(text, verb, args) : parseCommand(verb, args);
}

function parseChat(text: string, verb: string, args: string[]): Command {
  if (verb === 'join' || (verb === 'leave' && args.length > 0)) return error(CHAT_MODE_FOLLOW_REFUSAL);
  if (args.length === 0) {
    if (verb === 'exit') return { kind: 'exit' };
    if (verb === 'leave' || verb === 'quit') return { kind: 'quit' };
    if (verb === 'help') return { kind: 'help' };
  }
  return { kind: 'post', text };
}

function parseCommand(verb: string, args: string[]): Command {
  switch (verb) {
    case 'join':
      return follow('join', args);
    case 'leave':
      return args.length === 0 ? { kind: 'quit' } : follow('leave', args);
    case 'list':
      if (args.length > 1) return error('usage: list [prefix]');
      return { kind: 'list', prefix: args[0] ?? '' };
    case 'more':
    case 'chat':
    case 'help':
    case 'quit':
      return args.length === 0 ? { kind: verb } : error(`'${verb}' takes no arguments; type 'help' for the commands`);
    case 'exit':
      return error("you are not in chat mode; type 'quit' to disconnect or 'help' for the commands");
    default:
      return error(`unknown command '${printable(verb)}'; type 'help' for the commands`);
  }
}

function follow(kind: 'join' | 'leave', args: string[]): Command {
  if (args.length !== 1) return error(`usage: ${kind} <user>`);
  const bad = usernameError(args[0]);
  return bad ? error(bad) : { kind, room: args[0] };
}

function error(message: string): Command {
  return { kind: 'error', message };
}
