export type { TestEnvironment, TestEnvironmentOptions, Duration } from "./environment.js";
export { createTestEnvironment } from "./environment.js";
export { TestClock } from "./test-clock.js";
