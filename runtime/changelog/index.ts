export { PartitionLog, FencedError, ensureLogStream, logStreamName, logSubject } from "./partition-log.js";
