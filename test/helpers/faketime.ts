/** Machines under a shifted clock (Debian's faketime) for clock-skew tests. */
import { faketimeAvailable, faketimeLaunch } from '../../lib/chaos/cluster-lab';
import type { Launch } from './server';

/** The skip reason for a test that needs faketime, or false when it is installed. */
export const NO_FAKETIME: string | false = faketimeAvailable() ? false : 'faketime is not installed (Debian package faketime)';

/** Launches a machine's whole tree with its wall clock shifted (e.g. '-3h'); timers stay real. */
export function skewedClock(offset: string): Launch {
  return faketimeLaunch(offset);
}
