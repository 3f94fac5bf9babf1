/**
 * `fetch` held to the network policy: the same call shape as the global `fetch` (so a provider
 * ported from the platform keeps its code), over `node:http`/`node:https` with every address
 * vetted. A literal address is checked before any connection; a host name is resolved and
 * refused if any of its addresses is refused, and the connection goes to the vetted addresses
 * (no second lookup); the connected peer is checked once more. Redirects are not followed (a
 * 3xx is returned as it is) and proxy variables are ignored.
 *
 * `serve()` installs it as `globalThis.fetch`, so a plugin cannot reach what the operator did
 * not allow even through code that calls `fetch` directly. A refusal rejects with
 * {@link NetworkPolicyRefusal}; it is also noted in the current call (see {@link callState}), so
 * that a failure the provider reports after one is permanent: retrying cannot change it.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";

import { NetworkPolicy, NetworkPolicyRefusal, parseAddress } from "./net-policy.js";
import { inClientSpan, tracingEnabled } from "./tracing.js";
import { SDK_VERSION } from "./version.js";

/** The `User-Agent` sent unless the provider sets one. */
export const USER_AGENT = `switchyard-plugin-ts/${SDK_VERSION}`;

/** What the SDK tracks for the call in flight. */
export interface CallState {
  /**
   * True once a request of this call failed in a way retrying cannot change: the network
   * policy refused its address, or its URL is unusable.
   */
  unretryable: boolean;
}

/** A request that cannot be sent at all (an unreadable URL, a scheme other than http/https). */
export class InvalidRequest extends TypeError {
  override name = "InvalidRequest";
}

const calls = new AsyncLocalStorage<CallState>();

/** Runs `body` as one call, with its own {@link CallState}. */
export function runCall<T>(body: () => Promise<T>): Promise<{ value: T; state: CallState }> {
  const state: CallState = { unretryable: false };
  return calls.run(state, async () => ({ value: await body(), state }));
}

/** The state of the call in flight, if any. */
export function callState(): CallState | undefined {
  return calls.getStore();
}

function refuse<E extends NetworkPolicyRefusal | InvalidRequest>(error: E): E {
  const state = calls.getStore();
  if (state) state.unretryable = true;
  return error;
}

function vettingLookup(policy: NetworkPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      try {
        for (const a of addresses) {
          const parsed = parseAddress(a.address);
          if (parsed === undefined) throw new Error(`unreadable address ${a.address}`);
          policy.check(parsed, hostname);
        }
      } catch (refusal) {
        const error = refusal instanceof NetworkPolicyRefusal ? refuse(refusal) : (refusal as Error);
        return callback(error as NodeJS.ErrnoException, "", 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (first === undefined) return callback(new Error(`${hostname} has no address`), "", 0);
      return callback(null, first.address, first.family);
    });
  };
}

interface Outgoing {
  url: URL;
  method: string;
  headers: Headers;
  body: Buffer | undefined;
  signal: AbortSignal | undefined;
}

async function bodyOf(body: unknown, headers: Headers): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    return Buffer.from(body, "utf8");
  }
  if (body instanceof URLSearchParams) {
    if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
    return Buffer.from(body.toString(), "utf8");
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // Blob, FormData, streams: let the platform encode them.
  const encoded = new Response(body as ConstructorParameters<typeof Response>[0]);
  const type = encoded.headers.get("content-type");
  if (type && !headers.has("content-type")) headers.set("content-type", type);
  return Buffer.from(await encoded.arrayBuffer());
}

async function outgoing(input: string | URL | Request, init: RequestInit = {}): Promise<Outgoing> {
  const request = input instanceof Request ? input : undefined;
  let url: URL;
  try {
    url = new URL(request ? request.url : input.toString());
  } catch {
    // Never the URL itself in the message: it may be a secret (a Slack webhook URL).
    throw refuse(new InvalidRequest("fetch failed: the URL is not a valid absolute URL"));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refuse(new InvalidRequest(`fetch failed: unsupported URL scheme ${JSON.stringify(url.protocol)}: use http or https`));
  }
  const headers = new Headers(init.headers ?? request?.headers);
  if (!headers.has("user-agent")) headers.set("user-agent", USER_AGENT);
  const fromRequest = request && request.body !== null ? Buffer.from(await request.arrayBuffer()) : undefined;
  const raw = init.body !== undefined ? init.body : fromRequest;
  const body = await bodyOf(raw, headers);
  const method = (init.method ?? request?.method ?? "GET").toUpperCase();
  return { url, method, headers, body, signal: init.signal ?? request?.signal ?? undefined };
}

const NULL_BODY = new Set([101, 204, 205, 304]);

function toResponse(res: http.IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
    else if (value !== undefined) headers.set(name, value);
  }
  const status = res.statusCode ?? 0;
  const body = NULL_BODY.has(status) ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  if (body === null) res.resume();
  return new Response(body, { status, statusText: res.statusMessage ?? "", headers });
}

function checkPeer(socket: import("node:net").Socket, policy: NetworkPolicy, host: string): void {
  const peer = socket.remoteAddress ? parseAddress(socket.remoteAddress) : undefined;
  if (peer === undefined) return;
  try {
    policy.check(peer, parseAddress(host) ? undefined : host);
  } catch (refusal) {
    socket.destroy(refusal instanceof NetworkPolicyRefusal ? refuse(refusal) : (refusal as Error));
  }
}

function send(out: Outgoing, policy: NetworkPolicy): Promise<Response> {
  const host = out.url.hostname.replace(/^\[|\]$/g, "");
  const literal = parseAddress(host);
  if (literal !== undefined) {
    try {
      policy.check(literal);
    } catch (refusal) {
      return Promise.reject(refusal instanceof NetworkPolicyRefusal ? refuse(refusal) : refusal);
    }
  }
  const transport = out.url.protocol === "https:" ? https : http;
  const headers: Record<string, string> = {};
  out.headers.forEach((value, name) => (headers[name] = value));
  if (out.body !== undefined) headers["content-length"] = String(out.body.length);
  return new Promise<Response>((resolve, reject) => {
    const signal = out.signal;
    if (signal?.aborted) return reject(signal.reason);
    const req = transport.request(out.url, {
      method: out.method,
      headers,
      lookup: vettingLookup(policy),
      agent: false,
    });
    const onAbort = () => {
      req.destroy();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("socket", (socket) => socket.once("connect", () => checkPeer(socket, policy, host)));
    req.on("response", (res) => {
      signal?.removeEventListener("abort", onAbort);
      // Aborting later still ends the body stream with the signal's reason.
      signal?.addEventListener("abort", () => res.destroy(signal.reason as Error), { once: true });
      resolve(toResponse(res));
    });
    req.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      if (err instanceof NetworkPolicyRefusal) return reject(err);
      // The message names the cause (`connect ECONNREFUSED 127.0.0.1:9`), never the headers.
      reject(new TypeError(`fetch failed: ${err.message}`, { cause: err }));
    });
    req.end(out.body);
  });
}

/** A `Response` whose `json()` is typed `any`, as in the DOM's and Bun's types the platform uses. */
export type FetchResponse = Omit<Response, "json"> & {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json(): Promise<any>;
};

/** The call shape of {@link fetch}. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<FetchResponse>;

/** A `fetch` held to `policy`. */
export function policyFetch(policy: NetworkPolicy): Fetch {
  return async (input, init) => {
    const out = await outgoing(input, init);
    // A client span while traces are on (tracing.ts): method, host, port and status only.
    return tracingEnabled() ? inClientSpan(out.method, out.url, () => send(out, policy)) : send(out, policy);
  };
}

let current: NetworkPolicy | undefined;

/** Sets the policy {@link fetch} applies (`serve()` sets the one in `SWITCHYARD_NETWORK_ALLOW`). */
export function setPolicy(policy: NetworkPolicy): void {
  current = policy;
}

/**
 * `fetch` held to the plugin's network policy (the one `serve()` read from
 * `SWITCHYARD_NETWORK_ALLOW`, or read from the environment on first use).
 */
export const fetch: Fetch = (input, init) => {
  current ??= NetworkPolicy.fromEnv();
  return policyFetch(current)(input, init);
};
