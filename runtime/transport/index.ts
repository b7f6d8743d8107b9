export { ensureInboxStream, ensurePartitionConsumer, resetPartitionConsumer } from "./streams.js";
export { isNotFound, isWrongLastSequence } from "./jetstream-errors.js";
