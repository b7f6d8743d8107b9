export type { InvocationId } from "./ids.js";
export { newInvocationId, idempotentInvocationId, childInvocationId, messageDedupId, parseInvocationId, workflowRunInvocationId } from "./ids.js";
export { encode, encodeData, decode } from "./codec.js";
export { checkPlainData, PLAIN_DATA_RULE, MAX_PLAIN_DATA_DEPTH } from "./plain-data.js";
export { partitionOf, partitionOfTarget } from "./partitioning.js";
export { awakeableId, awakeableNonce, parseAwakeableId } from "./awakeables.js";
export type { AwakeableAddress } from "./awakeables.js";
export type { Target, Envelope, Caller, ReplyAddress, Reply, ControlCommand, ControlReply } from "./wire.js";
export {
  TargetType,
  targetLabel,
  parseTargetLabel,
  controlRequestSubject,
  inboxSubject,
  inboxStreamName,
  namespaceToken,
  streamDescription,
  partitionsFromDescription,
  isReply,
  MAX_KEY_BYTES,
  MAX_STATE_NAME_BYTES,
  loneSurrogateIndex,
  objectKeyProblem,
  stateNameProblem,
} from "./wire.js";
