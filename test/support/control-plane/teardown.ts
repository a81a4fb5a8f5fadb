// Last-resort cleanup when the process that owns a control plane goes away without calling
// `stop()`: a failing test run, an uncaught error, Ctrl-C, `kill <pid>`.
//
// Cleanups are synchronous (kill children with SIGKILL, remove folders) because the 'exit' event
// allows nothing else. On SIGINT/SIGTERM/SIGHUP they run only if nobody else listens for the
// signal: then the default behaviour (terminate) is restored by re-raising it. If someone else
// listens (vitest, the CLI), that listener owns the shutdown and the 'exit' hook remains the net.
// A SIGKILL of the owner cannot be caught; the pid files (see leftovers.ts) cover that case.

export type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
const signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const cleanup of pending) {
    try {
      cleanup();
    } catch {
      // Best effort: one failing cleanup must not keep the others from running.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  runAll();
  for (const s of signals) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of signals) process.on(signal, onSignal);
}

/** Registers a synchronous cleanup to run if the process ends first; returns its unregistration. */
export function cleanupOnExit(cleanup: Cleanup): () => void {
  install();
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}
