export { localTransport } from "./local-host.js";
export { LocalInbox, LocalInboxes } from "./local-inbox.js";
export { LocalCommitter } from "./local-committer.js";
export { LocalPartition } from "./local-partition.js";
export { LocalReplier, InboxRouter } from "./local-replier.js";
export { LocalClientTransport } from "./local-client.js";
export { LocalOwnership } from "./local-ownership.js";
