export type {
  LiveStatus,
  InvocationStatusName,
  TargetView,
  InvocationSummary,
  JournalEntryView,
  InvocationDetail,
  StateEntryView,
  StateView,
  StateChangeView,
  HistoryEntryView,
  TimerView,
  PartitionView,
  HandlerView,
  ServiceView,
  HealthView,
  InvocationFilter,
  ControlAnswer,
  InvocationControl,
} from "./api.js";
export type { AdminSource, InspectorDeps, Readiness, TransportStats } from "./inspector.js";
export { Inspector, DEFAULT_INVOCATION_LIMIT, DEFAULT_STATE_LIMIT } from "./inspector.js";
export type { Admin, AdminOptions, MetricsText } from "./server.js";
export { startAdmin } from "./server.js";
export { HostMetrics } from "./metrics.js";
export type { AdminAnswers, AdminQuery, AdminReply } from "./queries.js";
export { AdminOp, AdminQuerySchemas, answerQuery, isAdminOp } from "./queries.js";
export { journalView, journalEntryView, targetFromLabel } from "./journal-view.js";
export type { AdminReader } from "./reader.js";
export { AdminRequestError, HttpAdminReader, mergeAnswers } from "./reader.js";
export { historyView, jsonable } from "./value-views.js";
