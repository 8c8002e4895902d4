/**
 * `fbs console`: one page of the cluster, live. A poller reads what `fbs status`
 * reads (every machine's admin port) and each machine's /metrics once a second,
 * turns the differences into events (console-events) and pushes each snapshot to
 * every open page over server-sent events. Loopback only: it shows the cluster's
 * insides to whoever can reach it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ConfigError, type ClusterConfig } from '../common/config';
import { errorMessage } from '../common/log';
import { byLabel, sumOf } from '../common/metrics-text';
import { consoleEvents, linkEvents, type ConsoleEvent, type PeerLinks } from './console-events';
import { CONSOLE_PAGE } from './console-page';
import { scrapeMachine } from './scrape';
import { clusterStatus, type ClusterStatus, type ProcessView } from './status';

export const DEFAULT_CONSOLE_PORT = 50250;
const POLL_MS = 1_000;
const EVENTS_KEPT = 50;

export interface MachineView {
  reachable: boolean;
  term: number;
  metricsUrl: string;
  /** From the machine's ftchat_posts_total since the last poll; null until two scrapes. */
  postsPerSec: number | null;
  /** ftchat_replication_lag_events summed over its peers; null when /metrics does not answer. */
  lagEvents: number | null;
  /** Per peer, whether this machine pulls a replication stream from it (ftchat_peer_link_up); null when /metrics does not answer. */
  links: Record<string, boolean> | null;
}

export interface ConsoleSnapshot {
  at: number;
  master: ClusterStatus['master'];
  machines: Record<string, MachineView>;
  processes: ProcessView[];
  /** The latest events, oldest first. */
  events: ConsoleEvent[];
}

export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

export async function runConsole(config: ClusterConfig, port: number, host = '127.0.0.1'): Promise<RunningConsole> {
  const feed = new ConsoleFeed(config);
  const server = createServer((req, res) => route(req, res, feed));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const stop = new AbortController();
  void feed.run(stop.signal);
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise((resolve) => {
        stop.abort();
        feed.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `fbs console`: its URL as the first line, then the page until Ctrl-C. */
export async function consoleCommand(config: ClusterConfig, port: number, out: (text: string) => void): Promise<void> {
  let running: RunningConsole;
  try {
    running = await runConsole(config, port);
  } catch (err) {
    throw new ConfigError(`cannot serve the console on 127.0.0.1:${port}: ${errorMessage(err)} (choose another with --port N)`);
  }
  out(`${running.url}\n`);
  out(`the cluster of ${config.file}, live in a browser; Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
}

function route(req: IncomingMessage, res: ServerResponse, feed: ConsoleFeed): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET') res.writeHead(405).end();
  else if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(CONSOLE_PAGE);
  else if (path === '/events') feed.subscribe(res);
  else if (path === '/snapshot.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(feed.latest));
  else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

/** Polls the cluster and sends each snapshot to every open page. */
class ConsoleFeed {
  latest: ConsoleSnapshot | null = null;
  private readonly pages = new Set<ServerResponse>();
  private previous: ClusterStatus | null = null;
  private previousLinks: PeerLinks = {};
  private readonly posts = new Map<string, { at: number; total: number }>();
  private events: ConsoleEvent[] = [];

  constructor(private readonly config: ClusterConfig) {}

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll();
      await delay(POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  subscribe(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.pages.add(res);
    res.on('close', () => this.pages.delete(res));
    if (this.latest) res.write(`data: ${JSON.stringify(this.latest)}\n\n`);
  }

  end(): void {
    for (const res of this.pages) res.end();
  }

  private async poll(): Promise<void> {
    const status = await clusterStatus(this.config);
    const at = Date.now();
    if (this.previous) this.events = [...this.events, ...consoleEvents(this.previous, status, at)].slice(-EVENTS_KEPT);
    this.previous = status;
    // In the config's order, whichever machine answers first.
    const views = await Promise.all(Object.entries(status.machines).map(async ([m, v]) => [m, { ...v, ...(await this.rates(m, v.reachable, at)) }] as const));
    const machines: Record<string, MachineView> = Object.fromEntries(views);
    const links = Object.fromEntries(Object.entries(machines).map(([m, v]) => [m, v.links]));
    this.events = [...this.events, ...linkEvents(this.previousLinks, links, at)].slice(-EVENTS_KEPT);
    this.previousLinks = links;
    this.latest = { at, master: status.master, machines, processes: status.processes, events: this.events };
    const line = `data: ${JSON.stringify(this.latest)}\n\n`;
    for (const res of this.pages) res.write(line);
  }

  private async rates(machine: string, reachable: boolean, at: number): Promise<Pick<MachineView, 'postsPerSec' | 'lagEvents' | 'links'>> {
    const samples = reachable ? await scrapeMachine(this.config, machine) : null;
    if (!samples) {
      this.posts.delete(machine);
      return { postsPerSec: null, lagEvents: null, links: null };
    }
    const total = sumOf(samples, 'ftchat_posts_total');
    const before = this.posts.get(machine);
    this.posts.set(machine, { at, total });
    // A new primary counts from its children's zero again: no negative rate.
    const postsPerSec = before && total >= before.total ? ((total - before.total) * 1000) / Math.max(1, at - before.at) : null;
    const links = Object.fromEntries(Object.entries(byLabel(samples, 'ftchat_peer_link_up', 'peer')).map(([peer, v]) => [peer, v === 1]));
    return { postsPerSec, lagEvents: sumOf(samples, 'ftchat_replication_lag_events'), links };
  }
}
