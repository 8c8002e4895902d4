/**
 * A small network lab for partition tests and the chaos run: one network namespace per machine,
 * each joined to a bridge by a veth pair, so a machine's link can be taken down
 * and up like a real network interface. Addresses live only inside the lab
 * (10.77.<lab>.0/24, the bridge end .254 lets the test process reach them).
 * Needs root and iproute2; `createNetLab` returns the reason when it can't run.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NetLab {
  /** The machine's address inside the lab. */
  ip(machine: string): string;
  /** The namespaces it made (gone after teardown). */
  namespaces: string[];
  /** argv prefix that runs a command inside the machine's namespace. */
  prefix(machine: string): string[];
  linkDown(machine: string): void;
  linkUp(machine: string): void;
  teardown(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function netLabUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (the ip command) is not installed';
  }
  return null;
}

export function createNetLab(machines: string[]): NetLab {
  const id = randomBytes(3).toString('hex');
  const subnet = `10.77.${randomBytes(1)[0]}`;
  const bridge = `ftb${id}`;
  const ns = (m: string): string => `ft${id}-${m}`;
  const hostEnd = (m: string): string => `fh${id}${m}`.slice(0, 15);
  const nsEnd = (m: string): string => `fn${id}${m}`.slice(0, 15);
  const address = new Map(machines.map((m, i) => [m, `${subnet}.${i + 1}`]));
  const created: (() => void)[] = [];

  const lab: NetLab = {
    ip: (m) => address.get(m) as string,
    namespaces: machines.map(ns),
    prefix: (m) => ['ip', 'netns', 'exec', ns(m)],
    linkDown: (m) => ip('link', 'set', hostEnd(m), 'down'),
    linkUp: (m) => ip('link', 'set', hostEnd(m), 'up'),
    teardown: () => {
      for (const undo of created.reverse()) {
        try {
          undo();
        } catch {
          /* already gone */
        }
      }
    },
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    created.push(() => ip('link', 'del', bridge));
    ip('addr', 'add', `${subnet}.254/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const m of machines) {
      ip('netns', 'add', ns(m));
      created.push(() => ip('netns', 'del', ns(m)));
      ip('link', 'add', hostEnd(m), 'type', 'veth', 'peer', 'name', nsEnd(m));
      created.push(() => ip('link', 'del', hostEnd(m)));
      ip('link', 'set', nsEnd(m), 'netns', ns(m));
      ip('link', 'set', hostEnd(m), 'master', bridge);
      ip('link', 'set', hostEnd(m), 'up');
      ip('netns', 'exec', ns(m), 'ip', 'addr', 'add', `${address.get(m)}/24`, 'dev', nsEnd(m));
      ip('netns', 'exec', ns(m), 'ip', 'link', 'set', nsEnd(m), 'up');
      ip('netns', 'exec', ns(m), 'ip', 'link', 'set', 'lo', 'up');
    }
  } catch (err) {
    lab.teardown();
    throw err;
  }
  return lab;
}
