/**
 * Crash points, for the tests that prove each crash window safe: with `CAIRN_CRASH_AT=<point>:<n>`
 * in its environment, a host kills itself with SIGKILL the n-th time it reaches `<point>`, exactly
 * as a power cut there would. Unset (always, outside those tests), a crash point is one comparison.
 */
export const CrashPoint = {
  /** The handler has finished; nothing is committed. */
  BeforeCommit: "before-commit",
  /** The commit is durable; no send, ack or reply has left. */
  AfterCommit: "after-commit",
  /** The inbox message is acked (and the ack flushed to the server); the reply is not sent. */
  AfterAck: "after-ack",
  /** The relay's sends are acknowledged by JetStream but still in the outbox. */
  AfterPublish: "after-publish",
} as const;
export type CrashPoint = (typeof CrashPoint)[keyof typeof CrashPoint];

function parse(spec: string | undefined): { point: string; n: number } | undefined {
  const match = /^([a-z-]+):(\d+)$/.exec(spec ?? "");
  return match?.[1] && match[2] ? { point: match[1], n: Number(match[2]) } : undefined;
}

const armed = parse(process.env.CAIRN_CRASH_AT);
let reached = 0;

/** Whether this process is set to crash at `point` (to flush what must reach the server first). */
export function isArmed(point: CrashPoint): boolean {
  return armed?.point === point;
}

export function crashPoint(point: CrashPoint): void {
  if (armed?.point === point && ++reached === armed.n) process.kill(process.pid, "SIGKILL");
}
