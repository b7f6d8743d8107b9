export { ensureInboxStream, ensurePartitionConsumer, resetPartitionConsumer } from "./streams.js";
