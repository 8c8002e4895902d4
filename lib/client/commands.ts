/**
 * What a typed line means, in command mode or chat mode. Pure: no I/O, so every
 * rule of the contract's command language is checked by unit tests.
 *
 * Command words are case-insensitive and may carry a leading '/' (an IRC habit:
 * `/quit`). In chat mode every other line is a post, except a line starting with
 * '/': that is a command or refused, never posted by accident. `/say <text>` and
 * `//text` post what a command word would otherwise swallow.
 */
import { printable, usernameError } from '../core/usernames';
import { closestWord } from './suggest';

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

/** The words each mode takes as commands (chat mode also knows `say`, only with its '/'). */
const WORDS: Record<Mode, string[]> = {
  command: ['join', 'leave', 'list', 'more', 'chat', 'help', 'quit'],
  chat: ['exit', 'help', 'leave', 'quit', 'join', 'say'],
};

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
    'chat mode: each line you type is posted to your room, except these commands',
    '(case-insensitive, alone on the line, with or without a leading /):',
    '  exit                 back to command mode',
    '  help                 this help',
    '  leave | quit         disconnect',
    "  join | leave <user>  refused here: type 'exit' first",
    'any other line starting with / is refused, never posted. To post such a line as',
    'text: /say <text> (/say exit posts "exit"), or double the / (//shrug posts "/shrug").',
  ],
};

export function helpLines(mode: Mode): string[] {
  return HELP[mode];
}

export function parseLine(line: string, mode: Mode): Command {
  const text = line.trim();
  if (text === '') return { kind: 'nothing' };
  if (mode === 'chat') return parseChat(text);
  const [word, ...args] = text.split(/\s+/);
  return parseCommand(word.replace(/^\//, ''), args);
}

function parseChat(text: string): Command {
  if (text.startsWith('//')) return { kind: 'post', text: text.slice(1) };
  const slashed = text.startsWith('/');
  const [word, ...args] = (slashed ? text.slice(1) : text).split(/\s+/);
  const verb = word.toLowerCase();
  if (verb === 'join' || (verb === 'leave' && args.length > 0)) return error(CHAT_MODE_FOLLOW_REFUSAL);
  if (slashed && verb === 'say') {
    const said = text.slice(1 + word.length).trim();
    return said ? { kind: 'post', text: said } : error('usage: /say <text>');
  }
  if (args.length === 0) {
    if (verb === 'exit') return { kind: 'exit' };
    if (verb === 'leave' || verb === 'quit') return { kind: 'quit' };
    if (verb === 'help') return { kind: 'help' };
  }
  if (!slashed) return { kind: 'post', text };
  const known = WORDS.chat.includes(verb);
  return error(
    known
      ? `'/${verb}' takes no arguments here; type 'help' for chat mode's commands, or '/say <text>' to post a line as text`
      : `unknown command '/${printable(word)}'${didYouMean(verb, 'chat', '/')}type 'help' for chat mode's commands, or '//${printable(word)}' to post it as text`,
  );
}

function parseCommand(word: string, args: string[]): Command {
  const verb = word.toLowerCase();
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
      return error(`unknown command '${printable(word)}'${didYouMean(verb, 'command', '')}type 'help' for the commands`);
  }
}

/** `; did you mean 'join'? ` for a near miss of one of the mode's words, else `; `. */
function didYouMean(verb: string, mode: Mode, prefix: string): string {
  const near = closestWord(verb, WORDS[mode]);
  return near ? `; did you mean '${prefix}${near}'? ` : '; ';
}

function follow(kind: 'join' | 'leave', args: string[]): Command {
  if (args.length !== 1) return error(`usage: ${kind} <user>`);
  const bad = usernameError(args[0]);
  return bad ? error(bad) : { kind, room: args[0] };
}

function error(message: string): Command {
  return { kind: 'error', message };
}
