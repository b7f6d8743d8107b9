import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { JetStreamUnavailableError } from "../runtime/index.js";
import { requireJetStream } from "../runtime/transport/nats/index.js";
import { startNatsServer } from "./helpers/nats-server.js";

describe("requireJetStream", () => {
  it("says that a server started without JetStream has none, and how to enable it", async () => {
    await using server = await startNatsServer({ jetstream: false });
    const nc = await connect({ servers: server.url });
    try {
      const failure = await requireJetStream(nc).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(JetStreamUnavailableError);
      expect((failure as Error).message).toBe(
        `the NATS server at ${server.url.replace("nats://", "")} does not have JetStream enabled: start it with \`nats-server -js\` (or a \`jetstream {}\` block in its config); Cairn keeps its inboxes, changelogs and leases in JetStream`,
      );
    } finally {
      await nc.close();
    }
  });

  it("returns the JetStream manager of a server with JetStream", async () => {
    await using server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await requireJetStream(nc);
      expect((await jsm.getAccountInfo()).streams).toBe(0);
    } finally {
      await nc.close();
    }
  });
});
