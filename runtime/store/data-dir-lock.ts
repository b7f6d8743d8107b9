import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../errors.js";

const lockedHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Claims a data dir for this host: two hosts on one data dir would share its host id (and so the
 * namespace lock) and both consume its partitions. A claim left by a process that died (SIGKILL)
 * is taken over. Returns the release.
 */
export function claimDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const file = join(dir, "host.pid");
  if (lockedHere.has(dir)) throw new ConfigError(`dataDir ${dataDir} is already used by another host in this process`);
  try {
    writeFileSync(file, String(process.pid), { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const holder = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new ConfigError(`dataDir ${dataDir} is used by the host in process ${holder}; give each host its own dataDir`);
    }
    writeFileSync(file, String(process.pid));
  }
  lockedHere.add(dir);
  return () => {
    lockedHere.delete(dir);
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
}
