/** Display names of the API's enums. */

import { AttemptOutcome, AttemptTrigger, DeliveryStatus } from "./gen/switchyard/coordinator/v1/delivery_pb.js";

export const STATUSES: [DeliveryStatus, string][] = [
  [DeliveryStatus.PENDING, "pending"],
  [DeliveryStatus.WAITING, "waiting"],
  [DeliveryStatus.IN_FLIGHT, "in flight"],
  [DeliveryStatus.RETRYING, "retrying"],
  [DeliveryStatus.SUCCEEDED, "succeeded"],
  [DeliveryStatus.FAILED, "failed"],
  [DeliveryStatus.CANCELLED, "cancelled"],
];

export function statusName(s: DeliveryStatus): string {
  return STATUSES.find(([v]) => v === s)?.[1] ?? "unknown";
}

export function outcomeName(o: AttemptOutcome): string {
  return { [AttemptOutcome.DELIVERED]: "delivered", [AttemptOutcome.RETRYABLE]: "retryable", [AttemptOutcome.RATE_LIMITED]: "rate limited", [AttemptOutcome.PERMANENT]: "permanent", [AttemptOutcome.UNSPECIFIED]: "running" }[o];
}

export function triggerName(t: AttemptTrigger): string {
  return t === AttemptTrigger.MANUAL ? "manual" : "scheduled";
}

/** Colours of the status charts (also the badges' classes). */
export const STATUS_COLOURS: Record<string, string> = {
  pending: "#8a8f98",
  waiting: "#b59b3b",
  "in flight": "#3b7dd8",
  retrying: "#d9822b",
  succeeded: "#2e8b57",
  failed: "#c0392b",
  cancelled: "#6c5b7b",
};
