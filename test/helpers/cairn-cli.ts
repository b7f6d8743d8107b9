// Runs the `cairn` CLI from the sources as a child process, as a user's shell would.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../..");

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `cairn ARGS` with the environment cleared of the CAIRN_ variables a developer's shell may hold,
 * plus `env`. Asynchronous, so that a host in the test's own process keeps answering meanwhile.
 */
export async function cairn(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawnCairn(args, env);
  const status = await child.exited;
  return { status, stdout: child.stdout(), stderr: child.stderr() };
}

/** A running `cairn ARGS`, for a command that keeps running (`start`). */
export interface CairnProcess {
  process: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Its stdout once it matches `pattern`; rejects after `timeoutMs` or when it exits first. */
  untilStdout(pattern: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

export function spawnCairn(args: readonly string[], env: Record<string, string> = {}): CairnProcess {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("CAIRN_") && name !== "NODE_OPTIONS") childEnv[name] = value;
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "cli/main.ts", ...args], { cwd: REPO, env: { ...childEnv, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", resolveExit));
  const untilStdout = async (pattern: RegExp, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(stdout)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cairn ${args.join(" ")} did not print ${pattern}:\n${stdout}\n${stderr}`);
      await sleep(50);
    }
    return stdout;
  };
  return { process: child, stdout: () => stdout, stderr: () => stderr, untilStdout, exited };
}
