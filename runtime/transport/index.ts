export { ensureInboxStream, resetPartitionConsumer } from "./streams.js";
