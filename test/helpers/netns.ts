/**
 * The network-namespace lab for partition tests: it lives in lib/chaos (the
 * chaos run uses it outside tests); see lib/chaos/net-lab.ts.
 */
export { createNetLab, netLabUnavailable, type NetLab } from '../../lib/chaos/net-lab';
