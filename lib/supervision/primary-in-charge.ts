/**
 * What a primary runs once the Takeover has put it in charge of its machine: a
 * watch on the record (a successor rewriting it: chokidar, inotify, so a paused
 * primary gets the news as soon as it runs again), its children (server/primary),
 * its /metrics, and on the master machine the watch over the other machines'
 * children; and the clean stop of all that.
 */
import { watch } from 'chokidar';
import type { Logger } from '../common/log';
import { childSpecs } from '../control/child-supervisor';
import { runPrimary } from '../server/primary';
import type { RestartLedger } from '../storage/restart-ledger';
import { serveMachineMetrics } from './machine-metrics';
import type { PrimaryState } from './primary-admin';
import { readRecord, recordPath, writeRecord, type PrimaryRecord } from './primary-record';
import { watchRemoteChildren } from './remote-watch';
import { keepsStandby, primaryRole } from './roles';
import { keepStandby } from './standby-keeper';
import type { WarmChildren } from '../server/warm-children';

export interface InChargeOptions {
  log: Logger;
  ledger: RestartLedger;
  /** The predecessor did not stop cleanly: our children died with it. */
  died: boolean;
  previousPid: number | null;
  /** The record changed (read as it is now). */
  recordChanged(record: PrimaryRecord | null): void;
  /** What a clean stop lets go last, once the record says stopped (the lock, the admin port). */
  last(): Promise<void>;
  /** How to run fbs (node and script), for the standby we keep. */
  fbsCommand: string[];
  /** Our workers, forked ahead while we stood by. */
  warm?: WarmChildren;
}

/** Runs the machine; `stop()` stops it cleanly, marks the record stopped, then runs `last`. */
export async function runInCharge(self: PrimaryState, { log, ledger, died, previousPid, recordChanged, last, fbsCommand, warm }: InChargeOptions): Promise<{ stop(): Promise<void> }> {
  const { config, machine, machineDir, term, restarts } = self;
  const role = primaryRole(config, machine);
  log.info(`${role} in charge`, { term, restarts, previousPid });
  // The users wait for our workers: they go first (the ledger counts their restarts before any can die).
  if (died) ledger.bump(...childSpecs(config.workers).map((c) => `${c.role}.${c.slot}`));
  const primary = (self.primary = runPrimary({ config, machine, log, restarts: ledger, warm }));
  const recordWatch = watch(recordPath(machineDir), { ignoreInitial: true });
  recordWatch.on('all', () => recordChanged(readRecord(machineDir)));
  if (process.env.FBS_ELECTED !== undefined) ledger.elected();
  const endpoint = await serveMachineMetrics({ config, machine, role, term, restarts }, primary, ledger, log);
  // The master heartbeats the other machines' children through their primaries.
  const remote = role === 'master' ? watchRemoteChildren({ config, machine, log }) : null;
  const serving = (): boolean => primary.children().some((c) => c.role === 'worker' && c.state === 'up');
  const standby = keepsStandby(config, machine) ? keepStandby({ config, machine, log, fbsCommand, serving }) : null;
  return {
    async stop() {
      standby?.stop();
      remote?.stop();
      await endpoint.close();
      await recordWatch.close();
      // Guardians first (they would revive us), then our children.
      await self.guardians?.stop();
      await primary.stop();
      // A clean stop is not a failure: the next primary does not count it as a restart.
      await writeRecord(machineDir, { pid: 0, term, restarts, startedAt: new Date().toISOString() });
      await last();
    },
  };
}
