import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findExecutable, findNatsServer } from "../cli/nats-binary.js";
import { decideNatsSetup, natsSetupFacts } from "./helpers/nats-install.js";

describe("finding nats-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-bin-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the installed nats-server with a PATH that lacks /usr/sbin, as a normal user's does", () => {
    // The real machine: Debian's package puts it in /usr/sbin.
    expect(findNatsServer("/usr/bin:/bin")).toMatch(/\/nats-server$/);
    expect(findNatsServer("")).toBe(findNatsServer("/nowhere"));
  });

  it("prefers PATH, and skips files that are not executable", () => {
    const first = join(dir, "first");
    const second = join(dir, "second");
    mkdirSync(first);
    mkdirSync(second);
    writeFileSync(join(first, "tool"), "#!/bin/sh\n");
    chmodSync(join(first, "tool"), 0o644);
    writeFileSync(join(second, "tool"), "#!/bin/sh\n");
    chmodSync(join(second, "tool"), 0o755);
    expect(findExecutable("tool", `${first}:${second}`)).toBe(join(second, "tool"));
    expect(findExecutable("tool", "", [first, second])).toBe(join(second, "tool"));
    expect(findExecutable("tool", first)).toBeUndefined();
  });

  it("sees this machine as the test setup does", () => {
    const facts = natsSetupFacts();
    expect(facts.natsServer).toBe(findNatsServer());
    expect(decideNatsSetup(facts).type).toBe(facts.natsServer ? "ready" : facts.uid === 0 && facts.aptGet ? "install" : "stop");
  });
});

describe("decideNatsSetup", () => {
  it("goes ahead when nats-server is there, whoever runs", () => {
    expect(decideNatsSetup({ natsServer: "/usr/sbin/nats-server", uid: 1000, aptGet: undefined })).toEqual({ type: "ready", natsServer: "/usr/sbin/nats-server" });
  });

  it("installs it with apt-get when running as root with apt, and says so", () => {
    expect(decideNatsSetup({ natsServer: undefined, uid: 0, aptGet: "/usr/bin/apt-get" })).toEqual({
      type: "install",
      aptGet: "/usr/bin/apt-get",
      announcement: "nats-server is not installed: running `apt-get install -y nats-server` (as root, with apt) before the tests.",
    });
  });

  it("stops with the exact sudo command for a user who is not root", () => {
    expect(decideNatsSetup({ natsServer: undefined, uid: 1000, aptGet: "/usr/bin/apt-get" })).toEqual({
      type: "stop",
      message: "nats-server is not installed. Install it with:\n\n    sudo apt-get install -y nats-server\n\nthen run `npm test` again.",
    });
  });

  it("stops and points to the NATS docs where there is no apt-get, even as root", () => {
    const step = decideNatsSetup({ natsServer: undefined, uid: 0, aptGet: undefined });
    expect(step.type).toBe("stop");
    expect(step.type === "stop" && step.message).toMatch(/^nats-server is not installed and there is no apt-get here: install nats-server \(https:\/\/docs\.nats\.io/);
  });
});
