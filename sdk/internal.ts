// What the runtime needs from the SDK beyond its public surface. Not for users.
export type { ServiceHandlerEntry, ObjectHandlerEntry } from "./definitions.js";
export { isHandlerDefinition } from "./definitions.js";
export type { ThrownDescription } from "./describe-thrown.js";
export { describeThrown } from "./describe-thrown.js";
export { outcomeError } from "./errors.js";
export type { InvocationId, Target, Envelope, Caller, ReplyAddress, Reply, AwakeableAddress, ControlCommand, ControlReply } from "./protocol/index.js";
export {
  newInvocationId,
  idempotentInvocationId,
  workflowRunInvocationId,
  childInvocationId,
  parseInvocationId,
  encode,
  encodeData,
  checkPlainData,
  PLAIN_DATA_RULE,
  decode,
  partitionOf,
  partitionOfTarget,
  awakeableId,
  awakeableNonce,
  parseAwakeableId,
  targetLabel,
  parseTargetLabel,
  controlRequestSubject,
  inboxSubject,
  inboxStreamName,
  namespaceToken,
  streamDescription,
  partitionsFromDescription,
  MAX_KEY_BYTES,
  MAX_STATE_NAME_BYTES,
  loneSurrogateIndex,
  objectKeyProblem,
  stateNameProblem,
} from "./protocol/index.js";
// The client's NATS transport, which the host's NATS transport shares.
export type { NatsConnection, NatsConnectionOptions } from "./client/nats/index.js";
export {
  HOST_INBOX_PREFIX,
  HostNatsConnectionSchema,
  InboxPrefixSchema,
  NatsConnectionSchema,
  natsClientOptions,
  Header,
  envelopeHeaders,
  JetStreamPublisher,
  PubAckTimeoutError,
  PublishRefusedError,
} from "./client/nats/index.js";
export type { PubAck } from "./client/nats/index.js";
export type { TargetInvoker, SendClientOptions } from "./client-types.js";
export { targetInvoker } from "./client/client.js";
export type { ClientTransport } from "./client/transport.js";
export { Client } from "./client/client.js";
