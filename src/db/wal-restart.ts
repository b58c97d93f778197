/**
 * The request by which the checkpoint worker asks the server's writer to
 * start the WAL over (see startBackgroundCheckpoints): one Int32 in a
 * SharedArrayBuffer, read and changed with Atomics by both threads.
 */
export const RESTART_IDLE = 0
/** The worker has copied all but the last stretch of a long WAL: the writer is to checkpoint that stretch between two transactions. */
export const RESTART_WANTED = 1
/** The writer is checkpointing it: the worker does not checkpoint meanwhile. */
export const RESTART_RUNNING = 2
