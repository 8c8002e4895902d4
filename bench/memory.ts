/**
 * Resident memory of the server's worker (or any) processes, from /proc: VmHWM is the
 * peak since the worker started, VmRSS what it holds now.
 */
import type { BenchServer } from './server';
import { residentMb } from './stats';

export interface WorkerMemory {
  pid: number;
  peakMb: number;
  rssMb: number;
}

export function workerMemory(server: BenchServer): WorkerMemory[] {
  return processMemory(server.workerPids());
}

export function processMemory(pids: number[]): WorkerMemory[] {
  return pids.map((pid) => {
    const { peak, now } = residentMb(pid);
    return { pid, peakMb: peak, rssMb: now };
  });
}
