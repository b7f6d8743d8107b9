export type { ServedDiff } from "./served-diff.js";
export { describeServedDiff, diffServed, isSameServed, onlyAdds } from "./served-diff.js";
