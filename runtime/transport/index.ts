export { PartitionConsumer, ensureInboxStream } from "./streams.js";
export { isConsumerInTheWay, isNotFound, isWrongLastSequence } from "./jetstream-errors.js";
export { requireJetStream } from "./jetstream-check.js";
