// Runs the `cairn` CLI from the sources as a child process, as a user's shell would.
import { spawn } from "node:child_process";
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
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("CAIRN_") && name !== "NODE_OPTIONS") childEnv[name] = value;
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "cli/main.ts", ...args], { cwd: REPO, env: { ...childEnv, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((exited) => child.once("exit", exited));
  return { status, stdout, stderr };
}
