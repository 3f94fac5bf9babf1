/**
 * The platform API as the console calls it: gRPC-Web to the origin that served the page (the
 * coordinator's TCP listener), through the messages and service descriptors generated from
 * `proto/switchyard/coordinator/v1` (the same protos as `clients/typescript`). A bearer token,
 * when the operator gave one, rides on every call; it lives in `sessionStorage` only, so it
 * is gone when the tab closes.
 */

import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { ConnectionService } from "./gen/switchyard/coordinator/v1/connection_pb.js";
import { DeliveryService } from "./gen/switchyard/coordinator/v1/delivery_pb.js";
import { EventService } from "./gen/switchyard/coordinator/v1/event_pb.js";
import { EventTypeService } from "./gen/switchyard/coordinator/v1/event_type_pb.js";
import { ProviderService } from "./gen/switchyard/coordinator/v1/provider_pb.js";
import { SubscriptionService } from "./gen/switchyard/coordinator/v1/subscription_pb.js";

const TOKEN_KEY = "switchyard.token";

/** The token of this tab, if one was given. */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps `value` as this tab's token (empty forgets it). */
export function setToken(value: string): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

type Listener = (error: ConnectError) => void;
const authListeners = new Set<Listener>();

/** Calls `listener` whenever a call is refused for want of a (valid) token. */
export function onAuthRequired(listener: Listener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

const bearer: Interceptor = (next) => async (req) => {
  const t = token();
  if (t) req.header.set("authorization", `Bearer ${t}`);
  try {
    return await next(req);
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code === Code.Unauthenticated) for (const l of authListeners) l(e);
    throw e;
  }
};

const transport = createGrpcWebTransport({ baseUrl: window.location.origin, interceptors: [bearer] });

/** Every service of the platform API the console uses. */
export const api: {
  providers: Client<typeof ProviderService>;
  connections: Client<typeof ConnectionService>;
  subscriptions: Client<typeof SubscriptionService>;
  deliveries: Client<typeof DeliveryService>;
  eventTypes: Client<typeof EventTypeService>;
  events: Client<typeof EventService>;
} = {
  providers: createClient(ProviderService, transport),
  connections: createClient(ConnectionService, transport),
  subscriptions: createClient(SubscriptionService, transport),
  deliveries: createClient(DeliveryService, transport),
  eventTypes: createClient(EventTypeService, transport),
  events: createClient(EventService, transport),
};

/** The message of a failed call, for the user (the server's text says what to fix). */
export function messageOf(err: unknown): string {
  if (err instanceof ConnectError) return `${Code[err.code] ?? err.code}: ${err.rawMessage}`;
  return err instanceof Error ? err.message : String(err);
}

/** One problem at a JSON Pointer of a config ("" for the whole config). */
export interface Problem {
  path: string;
  message: string;
}

/**
 * The problems an INVALID_ARGUMENT names, e.g. `config_json is invalid: at /url: "url" is a
 * required property; at /textTemplate: …` (the coordinator's schema problems and the plugin's
 * diagnostics share that form). Empty when the error names no path.
 */
export function problemsOf(err: unknown): Problem[] {
  if (!(err instanceof ConnectError) || err.code !== Code.InvalidArgument) return [];
  const text = err.rawMessage;
  const marker = /(?:^|; |: )at (\(root\)|\/[^:]*): /g;
  const starts = [...text.matchAll(marker)];
  return starts.map((m, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]!.index : text.length;
    const path = m[1] === "(root)" ? "" : m[1]!;
    return { path, message: text.slice(m.index + m[0].length, end) };
  });
}
