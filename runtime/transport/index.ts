export { PartitionConsumer, ensureInboxStream } from "./streams.js";
export { isConsumerInTheWay, isNotFound, isWrongLastSequence } from "./jetstream-errors.js";
