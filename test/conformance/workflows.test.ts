import { beforeEach, describe, expect, it } from "vitest";
import { durableSeen, steps } from "../fixtures/durable.js";
import { approval, selfAsking, starter, workflowSeen } from "../fixtures/workflows.js";
import { eventually } from "../helpers/host.js";
import { durableModes, useMode } from "../helpers/modes.js";

describe.each(durableModes)("$label", (mode) => {
  const cairn = useMode(mode);
  const h = cairn.sharedHost({ services: [approval, steps, starter, selfAsking], host: { partitions: 4 } });

  beforeEach(() => {
    workflowSeen.reset();
    durableSeen.reset();
  });

  const waiting = (key: string) => eventually(async () => (await h.client.workflowClient(approval, key).status()) === "waiting", 5000);

  it("runs a workflow once per key: it waits for its signal, and a second run gets the first one's result", async () => {
    const first = h.client.workflowClient(approval, "wf-1").run("first");
    expect(await waiting("wf-1")).toBe(true);
    expect(await h.client.workflowClient(approval, "wf-1").peek()).toBe("undecided");
    // A second run while the first waits: the same invocation, the same result.
    const again = h.client.workflowClient(approval, "wf-1").run("second");
    await h.client.workflowClient(approval, "wf-1").decide("yes");
    expect(await first).toBe("first:yes");
    expect(await again).toBe("first:yes");
    // And after it ended.
    expect(await h.client.workflowClient(approval, "wf-1").run("third")).toBe("first:yes");
    expect(await h.client.workflowClient(approval, "wf-1").status()).toBe("yes");
    expect(workflowSeen.runs.get("wf-1")).toBe(1);
  });

  it("gets a promise resolved before run asks for it at once, and keeps the first resolution", async () => {
    await h.client.workflowClient(approval, "wf-early").decide("early");
    await h.client.workflowClient(approval, "wf-early").decide("late");
    expect(await h.client.workflowClient(approval, "wf-early").peek()).toBe("early");
    expect(await h.client.workflowClient(approval, "wf-early").run("r")).toBe("r:early");
  });

  it("throws a TerminalError with the reason in run when its promise is rejected", async () => {
    const run = h.client.workflowClient(approval, "wf-no").run("r");
    expect(await waiting("wf-no")).toBe(true);
    await h.client.workflowClient(approval, "wf-no").refuse("too expensive");
    expect(await run).toBe("r:rejected (too expensive)");
  });

  it("keeps a workflow waiting on its promise across a restart", async () => {
    const own = await cairn.start({ services: [approval], host: { partitions: 4 } });
    await own.client.workflowSendClient(approval, "wf-restart").run("r");
    expect(await eventually(async () => (await own.client.workflowClient(approval, "wf-restart").status()) === "waiting", 5000)).toBe(true);
    await own.restart();
    await own.client.workflowClient(approval, "wf-restart").decide("after");
    expect(await eventually(async () => (await own.client.workflowClient(approval, "wf-restart").status()) === "after", 10_000)).toBe(true);
    expect(await own.client.workflowClient(approval, "wf-restart").run("again")).toBe("r:after");
    expect(workflowSeen.runs.get("wf-restart")).toBe(1);
    await own.close();
  });

  it("starts a workflow from a handler and gets its result, and asks its shared handler", async () => {
    const started = h.client.objectClient(starter, "s-1").start("wf-from-handler");
    expect(await waiting("wf-from-handler")).toBe(true);
    expect(await h.client.objectClient(starter, "s-2").status("wf-from-handler")).toBe("waiting");
    await h.client.workflowClient(approval, "wf-from-handler").decide("ok");
    expect(await started).toBe("via a handler:ok");
  });

  it("lets a workflow's run call its own shared handler (no call cycle)", async () => {
    expect(await h.client.workflowClient(selfAsking, "self-1").run()).toBe("asked myself");
  });

  it("gets a signal resolved at the moment run starts waiting for it, every time", async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `wf-tight-${i}`);
    const runs = keys.map((key) => h.client.workflowClient(approval, key).run("r"));
    await Promise.all(keys.map((key) => h.client.workflowClient(approval, key).decide("now")));
    expect(await Promise.all(runs)).toEqual(keys.map(() => "r:now"));
  });
});
