/**
 * {@link SwitchyardClient}: one object with every service of `switchyard.coordinator.v1`, each
 * method returning a promise and taking a partial request (the fields left out get their
 * protobuf defaults), and `deliveries.watchDeliveries` returning a {@link Watch} (an async
 * iterable whose `ready` resolves once the coordinator has subscribed it, so no change is
 * missed after it). All services share one channel.
 *
 * The request message of method `fooBar` is `FooBarRequest` (buf's STANDARD lint enforces the
 * naming), which is how the wrapper finds the `fromPartial` that completes a partial request.
 */

import { once } from "node:events";

import { Metadata, type CallOptions, type Client, type ClientReadableStream, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";

import { bearer, resolveAddress, type ConnectOptions } from "./address.js";
import * as connection from "./gen/switchyard/coordinator/v1/connection.js";
import * as delivery from "./gen/switchyard/coordinator/v1/delivery.js";
import * as event from "./gen/switchyard/coordinator/v1/event.js";
import * as eventType from "./gen/switchyard/coordinator/v1/event_type.js";
import * as provider from "./gen/switchyard/coordinator/v1/provider.js";
import * as secretKey from "./gen/switchyard/coordinator/v1/secret_key.js";
import * as subscription from "./gen/switchyard/coordinator/v1/subscription.js";

/** Per-call options. */
export interface CallSettings {
  /** Milliseconds until the call is given up (DEADLINE_EXCEEDED). */
  timeoutMs?: number;
  /** Extra metadata. */
  metadata?: Record<string, string>;
}

type Partialize<T> = T extends Date ? T : T extends readonly (infer U)[] ? Partialize<U>[] : T extends object ? { [K in keyof T]?: Partialize<T[K]> } : T;

/** A unary method as a promise of its response. */
type UnaryOf<F> = F extends (req: infer Req, metadata: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: infer Res) => void) => ClientUnaryCall
  ? (request?: Partialize<Req>, settings?: CallSettings) => Promise<Res>
  : never;

/** A server stream of `T`: iterate it; `ready` resolves once the server has started it. */
export interface Watch<T> extends AsyncIterable<T> {
  ready: Promise<void>;
  cancel(): void;
}

type StreamOf<F> = F extends (req: infer Req, metadata?: Metadata, options?: Partial<CallOptions>) => ClientReadableStream<infer Res>
  ? (request?: Partialize<Req>, settings?: CallSettings) => Watch<Res>
  : never;

type MethodsOf<C> = {
  [K in keyof C as C[K] extends (...args: never[]) => ClientUnaryCall | ClientReadableStream<unknown> ? K : never]: [StreamOf<C[K]>] extends [never] ? UnaryOf<C[K]> : StreamOf<C[K]>;
};

/** A service of the API with promise-returning methods. */
export type Service<C> = Omit<MethodsOf<C>, keyof Client>;

type Messages = Record<string, unknown>;
type Definition = Record<string, { path: string; responseStream: boolean }>;

function fromPartialFor(messages: Messages, method: string): (value: unknown) => unknown {
  const name = method[0]!.toUpperCase() + method.slice(1) + "Request";
  const type = messages[name] as { fromPartial?: (v: unknown) => unknown } | undefined;
  if (!type?.fromPartial) throw new Error(`no message ${name} for method ${method}`);
  return type.fromPartial;
}

function optionsOf(settings: CallSettings): [Metadata, Partial<CallOptions>] {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(settings.metadata ?? {})) metadata.set(k, v);
  return [metadata, settings.timeoutMs === undefined ? {} : { deadline: Date.now() + settings.timeoutMs }];
}

function watchOf<T>(stream: ClientReadableStream<T>): Watch<T> {
  // `metadata` arrives with the server's response headers, sent once the stream is subscribed.
  const ready = Promise.race([
    once(stream, "metadata").then(() => undefined),
    once(stream, "error").then(([err]) => Promise.reject(err as Error)),
  ]);
  ready.catch(() => undefined); // also surfaced by the iterator
  return { ready, cancel: () => stream.cancel(), [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() as AsyncIterator<T> };
}

function wrap<C extends Client>(client: C, definition: Definition, messages: Messages): Service<C> {
  const service: Record<string, unknown> = {};
  for (const [method, def] of Object.entries(definition)) {
    const complete = fromPartialFor(messages, method);
    const raw = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method]!.bind(client);
    service[method] = def.responseStream
      ? (request: unknown = {}, settings: CallSettings = {}) => watchOf(raw(complete(request), ...optionsOf(settings)) as ClientReadableStream<unknown>)
      : (request: unknown = {}, settings: CallSettings = {}) =>
          new Promise((resolve, reject) => raw(complete(request), ...optionsOf(settings), (err: ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))));
  }
  return service as Service<C>;
}

/** Every service of the platform API on one channel. */
export class SwitchyardClient {
  readonly events: Service<event.EventServiceClient>;
  readonly eventTypes: Service<eventType.EventTypeServiceClient>;
  readonly subscriptions: Service<subscription.SubscriptionServiceClient>;
  readonly deliveries: Service<delivery.DeliveryServiceClient>;
  readonly providers: Service<provider.ProviderServiceClient>;
  readonly connections: Service<connection.ConnectionServiceClient>;
  readonly secretKeys: Service<secretKey.SecretKeyServiceClient>;
  private readonly clients: Client[] = [];

  /** A client of the coordinator at `address` (see `resolveAddress`); connects lazily. */
  constructor(address: string, options: ConnectOptions = {}) {
    const { target, creds } = resolveAddress(address, options.tls);
    const channelOptions = options.token ? { interceptors: [bearer(options.token)] } : {};
    const make = <C extends Client>(Ctor: new (t: string, c: typeof creds, o: object) => C): C => {
      const first = this.clients[0];
      // Every service shares the first client's channel.
      const made = new Ctor(target, creds, first ? { ...channelOptions, channelOverride: first.getChannel() } : channelOptions);
      this.clients.push(made);
      return made;
    };
    this.events = wrap(make(event.EventServiceClient), event.EventServiceService, event);
    this.eventTypes = wrap(make(eventType.EventTypeServiceClient), eventType.EventTypeServiceService, eventType);
    this.subscriptions = wrap(make(subscription.SubscriptionServiceClient), subscription.SubscriptionServiceService, subscription);
    this.deliveries = wrap(make(delivery.DeliveryServiceClient), delivery.DeliveryServiceService, delivery);
    this.providers = wrap(make(provider.ProviderServiceClient), provider.ProviderServiceService, provider);
    this.connections = wrap(make(connection.ConnectionServiceClient), connection.ConnectionServiceService, connection);
    this.secretKeys = wrap(make(secretKey.SecretKeyServiceClient), secretKey.SecretKeyServiceService, secretKey);
  }

  /** Closes the channel. */
  close(): void {
    this.clients[0]?.close();
  }
}
