import { type ChildProcess, spawn } from "node:child_process";

/**
 * Starts `test/fixtures/host-main.ts` (a host serving the examples and the probe) in a child
 * process and resolves once it has printed "ready".
 */
export function startHostProcess(
  args: {
    natsUrl: string;
    namespace: string;
    dataDir: string;
    partitions: number;
    env?: Record<string, string>;
    /** Receives the host's stderr (its logs); without it, stderr goes to the test's. */
    onStderr?: (text: string) => void;
  },
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const { natsUrl, namespace, dataDir, partitions, ...options } = args;
  return startFixtureProcess("test/fixtures/host-main.ts", [natsUrl, namespace, dataDir, String(partitions)], options, nodeArgs);
}

/** Starts a fixture script under tsx in a child process and resolves once it has printed "ready". */
export function startFixtureProcess(
  script: string,
  args: string[],
  options: { env?: Record<string, string>; onStderr?: (text: string) => void } = {},
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [...nodeArgs, "--conditions=source", "--import", "tsx", script, ...args], {
    stdio: ["ignore", "pipe", options.onStderr ? "pipe" : "inherit"],
    env: { ...process.env, ...options.env },
  });
  const onStderr = options.onStderr;
  if (onStderr) proc.stderr?.on("data", (chunk: Buffer) => onStderr(chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${script} did not become ready within 30 s`));
    }, 30_000);
    proc.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
  });
}

/** SIGKILLs a host process (if it still runs) and waits until it is gone. */
export async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}
