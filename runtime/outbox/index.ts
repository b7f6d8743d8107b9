export { OutboxRelay } from "./relay.js";
