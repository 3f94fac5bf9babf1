/**
 * An OTLP trace receiver in the test process (after `tests/e2e/src/otlp.rs`): a real grpc-js
 * server of `opentelemetry.proto.collector.trace.v1.TraceService` on an ephemeral loopback port,
 * keeping every span it is sent with the `service.name` of the process that sent it. Point a
 * plugin or a coordinator at it with `OTEL_EXPORTER_OTLP_ENDPOINT` = {@link OtlpReceiver.endpoint}.
 * {@link OtlpReceiver.waitFor} resolves on the export that completes what a test waits for.
 */

import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";

import {
  TraceServiceService,
  type ExportTraceServiceRequest,
  type ExportTraceServiceResponse,
} from "./gen/opentelemetry/proto/collector/trace/v1/trace_service.js";
import type { KeyValue } from "./gen/opentelemetry/proto/common/v1/common.js";
import type { Span } from "./gen/opentelemetry/proto/trace/v1/trace.js";

/** A span as received, with the service that sent it. */
export class ReceivedSpan {
  constructor(
    readonly service: string,
    readonly span: Span,
  ) {}

  get name(): string {
    return this.span.name;
  }
  /** 32 hex digits. */
  get traceId(): string {
    return Buffer.from(this.span.traceId).toString("hex");
  }
  /** 16 hex digits. */
  get spanId(): string {
    return Buffer.from(this.span.spanId).toString("hex");
  }
  /** 16 hex digits ("" for a root span). */
  get parentId(): string {
    return Buffer.from(this.span.parentSpanId).toString("hex");
  }
  /** A string, integer or boolean attribute, as text. */
  attribute(key: string): string | undefined {
    return attribute(this.span.attributes, key);
  }
  /** Every attribute, as text (to check that none quotes a secret). */
  attributes(): Record<string, string | undefined> {
    return Object.fromEntries(this.span.attributes.map((kv) => [kv.key, attribute(this.span.attributes, kv.key)]));
  }
}

function attribute(attributes: KeyValue[], key: string): string | undefined {
  const value = attributes.find((kv) => kv.key === key)?.value;
  if (value === undefined) return undefined;
  return value.stringValue ?? value.intValue?.toString() ?? value.boolValue?.toString() ?? value.doubleValue?.toString();
}

interface Waiter {
  done: (spans: ReceivedSpan[]) => boolean;
}

/** The receiver; `close()` stops it. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private waiters: Waiter[] = [];

  private port = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(new Server());
    receiver.server.addService(TraceServiceService, {
      export(call: ServerUnaryCall<ExportTraceServiceRequest, ExportTraceServiceResponse>, callback: sendUnaryData<ExportTraceServiceResponse>) {
        receiver.receive(call.request);
        callback(null, { partialSuccess: undefined });
      },
    });
    receiver.port = await new Promise<number>((done, fail) =>
      receiver.server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? fail(err) : done(p))),
    );
    return receiver;
  }

  private receive(request: ExportTraceServiceRequest): void {
    for (const rs of request.resourceSpans) {
      const service = attribute(rs.resource?.attributes ?? [], "service.name") ?? "";
      for (const ss of rs.scopeSpans) for (const span of ss.spans) this.spans.push(new ReceivedSpan(service, span));
    }
    this.waiters = this.waiters.filter((w) => !w.done(this.spans));
  }

  /** `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Resolves with every span received once `complete(spans)` holds; rejects after `deadlineMs`
   * with what did arrive (a failure report, not a timing assertion).
   */
  waitFor(what: string, complete: (spans: ReceivedSpan[]) => boolean, deadlineMs = 30_000): Promise<ReceivedSpan[]> {
    if (complete(this.spans)) return Promise.resolve([...this.spans]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = this.spans.map((s) => `${s.service}: ${s.name} ${s.traceId}/${s.spanId} <- ${s.parentId}`).join("\n");
        reject(new Error(`no ${what} within ${deadlineMs} ms; received:\n${seen}`));
      }, deadlineMs);
      const waiter: Waiter = {
        done: (spans) => {
          if (!complete(spans)) return false;
          clearTimeout(timer);
          resolve([...spans]);
          return true;
        },
      };
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((done) => this.server.tryShutdown(() => done()));
  }
}
