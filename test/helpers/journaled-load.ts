import { openSync, writeSync } from "node:fs";

/**
 * The load of a crash-test child process that holds its own host (embedded mode has no server, so
 * the load dies with it). Each operation is journaled to `journalPath` with one synchronous write
 * before it is made ("s N", and what `startNote` adds) and one once acknowledged ("a N"): a write()
 * that returned is in the page cache and survives a SIGKILL. `CAIRN_CRASH_REDO` ("N,N,…") lists
 * operations an earlier process started and never saw acknowledged; they are made again first.
 * Prints "ready", and exits when the load fails (the test must see it) or the test process is gone.
 */
export function runJournaledLoad(options: {
  name: string;
  journalPath: string;
  firstOp: number;
  workers: number;
  operate: (n: number) => Promise<void>;
  startNote?: () => string;
}): void {
  const journal = openSync(options.journalPath, "a");
  const record = (line: string) => writeSync(journal, `${line}\n`);
  const queue = (process.env.CAIRN_CRASH_REDO ?? "").split(",").filter(Boolean).map(Number);
  let next = options.firstOp;
  const worker = async (): Promise<void> => {
    for (;;) {
      const n = queue.shift() ?? next++;
      record(options.startNote ? `s ${n} ${options.startNote()}` : `s ${n}`);
      await options.operate(n);
      record(`a ${n}`);
    }
  };
  process.stdout.write("ready\n");
  for (let w = 0; w < options.workers; w++) {
    worker().catch((error: unknown) => {
      process.stderr.write(`${options.name}: ${String(error)}\n`);
      process.exit(2);
    });
  }
  // A test that dies without cleaning up must not leave this process running: exit when orphaned.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
}
