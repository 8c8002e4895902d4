/** How a machine's child says why it exited; its primary acts on it. */
export const EXIT_FATAL_STORAGE = 70;
/**
 * The child dropped the machine's index and checkpoint (a record disagreed with its
 * room file): every child of the machine must load again, or the others would keep
 * serving from what was dropped (and never fetch a damaged line's event again).
 */
export const EXIT_REBUILD_INDEX = 76;
/** A primary that lost its lock or its term stepped down (its guardians elect or revive). */
export const EXIT_STEPPED_DOWN = 75;

/** `fbs status`: no machine of the cluster answers (2 is a bad command line or config). */
export const EXIT_CLUSTER_DOWN = 3;
