// Finding the `nats-server` binary. Debian installs it in /usr/sbin, which is not on a normal user's
// PATH, so a PATH lookup alone says "not installed" about a server that is there.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Where nats-server is looked for after PATH, in this order. */
export const NATS_SERVER_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"] as const;

/** The command that installs nats-server on Debian/Ubuntu, for messages that stop a run. */
export const NATS_INSTALL_COMMAND = "apt-get install -y nats-server";

/**
 * The path of the `nats-server` to run: the first executable one on `PATH`, then in
 * {@link NATS_SERVER_DIRS}; `undefined` when there is none.
 */
export function findNatsServer(path = process.env.PATH ?? ""): string | undefined {
  return findExecutable("nats-server", path, NATS_SERVER_DIRS);
}

/** The first executable file called `name` on `path` (a PATH value), then in `moreDirs`. */
export function findExecutable(name: string, path: string, moreDirs: readonly string[] = []): string | undefined {
  const dirs = [...path.split(delimiter).filter((dir) => dir.length > 0), ...moreDirs];
  for (const dir of dirs) {
    const file = join(dir, name);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

/** Like {@link findNatsServer}, throwing the install hint when there is none. */
export function requireNatsServer(path = process.env.PATH ?? ""): string {
  const file = findNatsServer(path);
  if (file === undefined) throw new NatsServerMissingError();
  return file;
}

/** No nats-server on PATH nor in the usual system directories. */
export class NatsServerMissingError extends Error {
  constructor(options?: ErrorOptions) {
    super(
      `nats-server is not installed (looked on PATH and in ${NATS_SERVER_DIRS.join(", ")}). Install it with \`sudo ${NATS_INSTALL_COMMAND}\` (Debian/Ubuntu) and run this again.`,
      options,
    );
    this.name = "NatsServerMissingError";
  }
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
