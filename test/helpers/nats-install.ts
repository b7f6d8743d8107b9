// What `npm test` does about a missing nats-server: install it when it can, else stop at once
// with the command that would.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { NATS_INSTALL_COMMAND, findExecutable, findNatsServer } from "../../cli/nats-binary.js";

/** What the test setup found on this machine. */
export interface NatsSetupFacts {
  /** Where nats-server is, or undefined when it is nowhere we look. */
  natsServer: string | undefined;
  /** The user id of this process (undefined where there is none, as on Windows). */
  uid: number | undefined;
  /** Where apt-get is, or undefined. */
  aptGet: string | undefined;
}

export type NatsSetupStep =
  | { type: "ready"; natsServer: string }
  | { type: "install"; aptGet: string; announcement: string }
  | { type: "stop"; message: string };

/** Decides, from the facts alone, what the test setup does. */
export function decideNatsSetup(facts: NatsSetupFacts): NatsSetupStep {
  if (facts.natsServer !== undefined) return { type: "ready", natsServer: facts.natsServer };
  if (facts.aptGet === undefined) {
    return {
      type: "stop",
      message: "nats-server is not installed and there is no apt-get here: install nats-server (https://docs.nats.io/running-a-nats-service/introduction/installation), put it on PATH, and run `npm test` again.",
    };
  }
  if (facts.uid !== 0) {
    return { type: "stop", message: `nats-server is not installed. Install it with:\n\n    sudo ${NATS_INSTALL_COMMAND}\n\nthen run \`npm test\` again.` };
  }
  return { type: "install", aptGet: facts.aptGet, announcement: `nats-server is not installed: running \`${NATS_INSTALL_COMMAND}\` (as root, with apt) before the tests.` };
}

/** The facts of this machine. */
export function natsSetupFacts(): NatsSetupFacts {
  return { natsServer: findNatsServer(), uid: process.getuid?.(), aptGet: findExecutable("apt-get", process.env.PATH ?? "", ["/usr/bin"]) };
}

/** Makes sure nats-server is there for the tests, installing it when this run may; throws the stop message otherwise. */
export function ensureNatsServerForTests(log: (line: string) => void = (line) => console.error(line)): string {
  const step = decideNatsSetup(natsSetupFacts());
  switch (step.type) {
    case "ready":
      return step.natsServer;
    case "stop":
      throw new Error(step.message);
    case "install": {
      log(step.announcement);
      const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
      const install = () => execFileSync(step.aptGet, ["install", "-y", "nats-server"], { stdio: ["ignore", "inherit", "inherit"], env });
      try {
        install();
      } catch {
        // A fresh machine may have no package lists yet.
        log("apt-get install failed; running `apt-get update` and trying once more.");
        execFileSync(step.aptGet, ["update"], { stdio: ["ignore", "inherit", "inherit"], env });
        install();
      }
      const installed = findNatsServer();
      if (installed === undefined) throw new Error(`\`${NATS_INSTALL_COMMAND}\` ran, but nats-server is still not found on PATH or in /usr/sbin.`);
      log(`installed nats-server: ${installed}`);
      return installed;
    }
    default: {
      const unknownStep: never = step;
      throw new Error(`unknown step ${JSON.stringify(unknownStep)}`);
    }
  }
}

/**
 * The console test drives Debian's chromium: installed here too when this run is root with apt (as
 * nats-server is). Best effort: without it, only that test is skipped, saying why.
 */
export function ensureChromiumForTests(log: (line: string) => void = (line) => console.error(line)): void {
  if (process.env.CHROMIUM_PATH !== undefined || existsSync("/usr/bin/chromium")) return;
  const { uid, aptGet } = natsSetupFacts();
  if (uid !== 0 || aptGet === undefined) return;
  log("chromium is not installed: running `apt-get install -y chromium` (as root, with apt) for the console test.");
  try {
    execFileSync(aptGet, ["install", "-y", "chromium"], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } catch {
    log("apt-get install -y chromium failed; the console test will be skipped.");
  }
}
