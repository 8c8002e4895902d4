/**
 * The one shape of every state machine in this folder, as in etcd's raft (Step and
 * Tick in, Ready out): the shell feeds each thing it observes, and a `tick` on its
 * timer, as an input with the monotonic time, and performs the one batch of actions
 * that comes back, feeding their outcomes in again as inputs. Nothing else changes
 * a machine's state; its other methods only read it (views for status).
 */
export type Tick = { kind: 'tick' };

export interface Supervisor<Input extends { kind: string }, Action> {
  step(input: Input, now: number): Action[];
}
