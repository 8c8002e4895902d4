/**
 * A chaos client agent: one process beside one machine (in its network namespace
 * when there is one) running a writer and a reader through the real client code
 * (lib/client: ChatConnection with its failover, ChatFeed with its resumable
 * stream). It reports every step as an AgentRecord line on stdout and takes its
 * cues on stdin: `follow` (the reader joins the writers' rooms and opens its
 * feed), `go` (the writer starts posting), `stop-writing`, `exit`.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../common/config';
import { errorMessage } from '../common/log';
import { userChannelCredentials } from '../common/transport-security';
import { ChatFeed } from '../client/chat-feed';
import { ChatConnection, NoServerReachable, ServerRefusal } from '../client/connection';
import { Identity } from '../client/identity';
import { postClientId, postText, type AgentRecord } from './history';

export interface AgentOptions {
  writer: string;
  reader: string;
  /** The writers whose rooms the reader joins. */
  follow: string[];
  /** In order of preference: this agent's machine first. */
  servers: string[];
  /** The cluster's config: where its CA certificate is. */
  configFile: string;
  /** Pause between one post's ack and the next post. */
  postIntervalMs: number;
}

/** A writer whose post keeps failing after it was told to stop gives up after this long. */
const GIVE_UP_AFTER_STOP_MS = 60_000;
const SETUP_RETRY_MS = 200;

function emit(r: AgentRecord): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

export async function runAgent(opts: AgentOptions): Promise<void> {
  const credentials = userChannelCredentials(loadConfig(opts.configFile));
  // Each agent's users are its own: fresh keys, held in memory only.
  const writer = new ChatConnection(Identity.generate(opts.writer), opts.servers, credentials);
  const reader = new ChatConnection(Identity.generate(opts.reader), opts.servers, credentials);
  let feed: ChatFeed | null = null;
  let writing: Promise<void> | null = null;
  let stopWriting = 0;

  const cues = createInterface({ input: process.stdin });
  const exit = async (): Promise<void> => {
    stopWriting ||= Date.now();
    await writing;
    await feed?.stop();
    writer.close();
    reader.close();
    process.stdout.write('', () => process.exit(0));
  };
  cues.on('close', () => void exit());
  cues.on('line', (cue) => {
    if (cue === 'follow') {
      void openFeed(opts, reader)
        .then((f) => {
          feed = f;
          emit({ k: 'following', reader: opts.reader, at: Date.now() });
        })
        .catch(fatal);
    } else if (cue === 'go') writing = write(opts, writer, () => stopWriting).catch(fatal);
    else if (cue === 'stop-writing') {
      stopWriting = Date.now();
      void (writing ?? Promise.resolve()).then(() => emit({ k: 'done', writer: opts.writer }));
    } else if (cue === 'exit') void exit();
  });

  await untilDone(() => writer.connect());
  emit({ k: 'ready', client: opts.writer });
  await untilDone(() => reader.connect());
  emit({ k: 'ready', client: opts.reader });
}

/** The reader joins every followed room and opens its feed, which reports each line shown. */
async function openFeed(opts: AgentOptions, reader: ChatConnection): Promise<ChatFeed> {
  for (const room of opts.follow) {
    // A room created on another machine may not have reached ours yet: NOT_FOUND until it has.
    await untilDone(() =>
      reader.call('Join', { user: opts.reader, room }).catch((err: unknown) => {
        if (err instanceof ServerRefusal && err.code === grpc.status.ALREADY_EXISTS) return;
        throw err;
      }),
    );
  }
  const f = new ChatFeed(reader, {
    line: (line) => emit({ k: 'shown', reader: opts.reader, line, at: Date.now() }),
    note: (text) => emit({ k: 'note', reader: opts.reader, text, at: Date.now() }),
    error: (text) => emit({ k: 'note', reader: opts.reader, text, at: Date.now() }),
  });
  await untilDone(() => f.start());
  return f;
}

/**
 * One post in flight: each retried with the same id until acknowledged (or refused),
 * until `stoppedAt` says the writer was told to stop (epoch ms; 0 while writing).
 */
async function write(opts: AgentOptions, writer: ChatConnection, stoppedAt: () => number): Promise<void> {
  for (let n = 1; !stoppedAt(); n++) {
    const req = { user: opts.writer, id: postClientId(opts.writer, n), text: postText(opts.writer, n) };
    emit({ k: 'sent', writer: opts.writer, n, at: Date.now() });
    for (;;) {
      try {
        const res = await writer.call('Post', req);
        emit({ k: 'ack', writer: opts.writer, n, at: Date.now(), origin: res.event?.origin ?? '' });
        break;
      } catch (err) {
        if (!(err instanceof NoServerReachable)) {
          emit({ k: 'refused', writer: opts.writer, n, at: Date.now(), error: errorMessage(err) });
          break;
        }
        emit({ k: 'fail', writer: opts.writer, n, at: Date.now(), error: err.message });
        if (stoppedAt() && Date.now() - stoppedAt() > GIVE_UP_AFTER_STOP_MS) return;
      }
    }
    await sleep(opts.postIntervalMs);
  }
}

/** Setup steps are retried until they succeed: the run's own deadlines decide when to give up. */
async function untilDone<T>(step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch {
      await sleep(SETUP_RETRY_MS);
    }
  }
}

function fatal(err: unknown): void {
  process.stderr.write(`chaos agent: ${errorMessage(err)}\n`);
  process.exit(1);
}
