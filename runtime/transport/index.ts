export { PartitionConsumer, ensureInboxStream } from "./streams.js";
export { isNotFound, isWrongLastSequence } from "./jetstream-errors.js";
