/**
 * The contract's role names (docs/contract.md, `fbs status`): a machine's primary is
 * the `master` on the master machine and a `supervisor` elsewhere; its guardians are
 * `replica`s on the master machine and `guardian`s elsewhere.
 */
import type { ClusterConfig } from '../common/config';

export function primaryRole(config: ClusterConfig, machine: string): 'master' | 'supervisor' {
  return machine === config.master ? 'master' : 'supervisor';
}

export function guardianRole(config: ClusterConfig, machine: string): 'replica' | 'guardian' {
  return machine === config.master ? 'replica' : 'guardian';
}

/** Whether the machine keeps a warm standby primary (lib/control/standby-slot.ts): the master machine, unless the config says no. */
export function keepsStandby(config: ClusterConfig, machine: string): boolean {
  return config.standby && machine === config.master;
}
