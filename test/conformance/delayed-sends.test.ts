import { beforeEach, describe, expect, it } from "vitest";
import { echo, observed, probe } from "../fixtures/probe.js";
import { eventually } from "../helpers/host.js";
import { type ModeHost, modes, useMode } from "../helpers/modes.js";

const DELAY_MS = 1500;
/** How long after its due time a delayed send may take to run before the test gives up on it. */
const LATE_MS = 10_000;

/**
 * Waits for `Probe.stamp` on `key` to have run, then checks it ran exactly once, not before
 * `notBefore`, and left its label in state.
 */
async function expectStampedOnce(h: ModeHost, key: string, label: string, notBefore: number): Promise<void> {
  const ran = await eventually(() => (observed.stamps.get(key)?.length ?? 0) > 0, notBefore - Date.now() + LATE_MS);
  expect(ran, `Probe.stamp on ${key} never ran`).toBe(true);
  const [first] = observed.stamps.get(key) ?? [];
  expect(first, "ran before its delay").toBeGreaterThanOrEqual(notBefore);
  // An exclusive call on the key queues behind anything already delivered to it.
  await h.client.objectClient(probe, key).append(0);
  expect(observed.stamps.get(key)).toHaveLength(1);
  expect(await h.client.objectClient(probe, key).stamps()).toEqual([label]);
}

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);
  const h = cairn.sharedHost({ services: [probe, echo], host: { partitions: 4 } });

  beforeEach(() => observed.reset());

  it("runs a client's delayed send once, not before its delay (object and service sends)", async () => {
    const sentAt = Date.now();
    const receipt = await h.client.objectSendClient(probe, "client-delayed", { delayMs: DELAY_MS }).stamp("object");
    expect(receipt.invocationId).toMatch(/^inv_/);
    await h.client.serviceSendClient(echo, { delayMs: DELAY_MS }).stampLater({ key: "client-delayed-service", delayMs: 0, label: "service" });
    if (Date.now() < sentAt + DELAY_MS) expect(observed.stamps.size, "a delayed send ran at once").toBe(0);
    await expectStampedOnce(h, "client-delayed", "object", sentAt + DELAY_MS);
    await expectStampedOnce(h, "client-delayed-service", "service", sentAt + DELAY_MS);
  });

  it("runs a handler's delayed send once, not before its delay after the handler's commit", async () => {
    const calledAt = Date.now();
    await h.client.objectClient(probe, "sender").stampLater({ key: "ctx-delayed", delayMs: DELAY_MS, label: "from-object" });
    await h.client.serviceClient(echo).stampLater({ key: "ctx-delayed-service", delayMs: DELAY_MS, label: "from-service" });
    if (Date.now() < calledAt + DELAY_MS) expect(observed.stamps.size, "a delayed send ran at once").toBe(0);
    await expectStampedOnce(h, "ctx-delayed", "from-object", calledAt + DELAY_MS);
    await expectStampedOnce(h, "ctx-delayed-service", "from-service", calledAt + DELAY_MS);
  });

  it("runs a delayed send once after the host restarts on the same data dir", async () => {
    const own = await cairn.start({ services: [probe, echo], host: { partitions: 4 } });
    const sentAt = Date.now();
    await own.client.objectSendClient(probe, "survivor", { delayMs: DELAY_MS }).stamp("client");
    await own.client.objectClient(probe, "sender").stampLater({ key: "survivor-ctx", delayMs: DELAY_MS, label: "ctx" });
    await own.restart();
    if (Date.now() < sentAt + DELAY_MS) expect(observed.stamps.size, "a delayed send ran before the restart").toBe(0);
    await expectStampedOnce(own, "survivor", "client", sentAt + DELAY_MS);
    await expectStampedOnce(own, "survivor-ctx", "ctx", sentAt + DELAY_MS);
    await own.close();
  });
});
