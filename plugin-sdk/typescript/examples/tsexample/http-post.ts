// The example plugin's provider `http-post`: POSTs each event as JSON to
// a URL with a bearer token, classifies the answer with the SDK's HTTP helpers, follows an
// incident's lifecycle through correlation (the "created" delivery's id travels as state),
// renders an optional summary template, and shows the optional calls: testConnection,
// getConnectionOptions (a static resolver), a config migration from version 1 (`endpoint`) to
// version 2 (`url`), validateConfig (the template compiles) and preview (the request deliver
// would send, token masked).
import { z } from "zod";
import {
  configNumber,
  configString,
  fetch,
  http,
  REDACTED,
  template,
  Versioned,
  type IntegrationDeliveryContext,
  type IntegrationDeliveryResult,
  type IntegrationProvider,
} from "@switchyard/plugin-sdk";

const configV2 = z.object({
  url: configString({}).url().describe("Where to POST each event"),
  token: configString({ "x-secret": true }).min(1).describe("Bearer token sent in Authorization"),
  timeoutMs: configNumber({}).int().min(100).max(60_000).default(10_000).describe("Request timeout in milliseconds"),
  severity: configString({ "x-options-resolver": "severities" }).default("info").describe("Severity sent with each event"),
  summaryTemplate: template.textTemplate().optional().describe("One line sent as `summary`, e.g. `{{ payload.title | default(eventType) }}`"),
});

/** Compiled summary templates, shared by every delivery. */
const templates = new template.TemplateCache();

type Config = z.infer<typeof configV2>;

function summary(ctx: IntegrationDeliveryContext<Config>): string | undefined {
  const source = ctx.providerConfig.summaryTemplate;
  return source === undefined ? undefined : templates.get("/summaryTemplate", source).render(template.templateContext(ctx)).trim();
}

/** The request `deliver` sends; `preview` shows it with the token masked. */
function outgoing(ctx: IntegrationDeliveryContext<Config>, token: string) {
  return {
    method: "POST",
    url: ctx.providerConfig.url,
    headers: [
      { name: "content-type", value: "application/json" },
      { name: "authorization", value: `Bearer ${token}` },
      { name: "x-delivery-id", value: ctx.event.deliveryId },
    ],
    body: body(ctx),
  };
}

function body(ctx: IntegrationDeliveryContext<Config>): string {
  const origin = ctx.correlation?.origin();
  return JSON.stringify({
    type: ctx.event.eventType,
    eventId: ctx.event.id,
    deliveryId: ctx.event.deliveryId,
    attempt: ctx.event.attempt,
    timestamp: ctx.event.timestamp,
    subscription: ctx.subscription.name,
    severity: ctx.providerConfig.severity,
    summary: summary(ctx),
    correlationKey: ctx.correlation?.key,
    // The id the incident's first delivery got, so the receiver can thread this one under it.
    replyTo: origin?.state,
    payload: ctx.event.payload,
  });
}

export const httpPost: IntegrationProvider<Config> = {
  id: "http-post",
  displayName: "HTTP POST (TypeScript example)",
  description: "POSTs each event as JSON to a URL with a bearer token.",
  icon: "send",
  config: new Versioned({
    version: 2,
    schema: configV2,
    migrations: [
      {
        fromVersion: 1,
        toVersion: 2,
        description: "`endpoint` was renamed `url`",
        migrate: (data) => {
          const { endpoint, ...rest } = data as { endpoint?: unknown };
          return { ...rest, url: endpoint };
        },
      },
    ],
  }),
  documentation: {
    setupGuide: "Enter the receiver's URL and the bearer token it expects.",
    examplePayload: { type: "incident.incident.created", deliveryId: "del-1", payload: { incidentId: "inc-1" } },
    headers: [{ name: "Authorization", description: "`Bearer <token>`" }],
  },

  async deliver(ctx) {
    const { providerConfig: config } = ctx;
    ctx.logger.debug("delivering", { deliveryId: ctx.event.deliveryId, attempt: ctx.event.attempt });
    let request: ReturnType<typeof outgoing>;
    try {
      request = outgoing(ctx, config.token);
    } catch (err) {
      // A template that does not compile or fails to render: permanent, naming the field.
      if (err instanceof template.TemplateError) return err.result();
      throw err;
    }
    const result: IntegrationDeliveryResult = await http.deliveryResult(
      fetch(request.url, {
        method: request.method,
        headers: request.headers.map((h) => [h.name, h.value] as [string, string]),
        body: request.body,
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(config.timeoutMs)]),
      }),
    );
    // The first delivery of an incident keeps its external id for the ones that follow.
    if (result.success && ctx.correlation && !ctx.correlation.origin() && result.externalId) {
      return { ...result, state: result.externalId };
    }
    return result;
  },

  // Refuses a summary template that does not compile when the subscription is saved.
  async validateConfig(config) {
    if (config.summaryTemplate === undefined) return [];
    try {
      templates.get("/summaryTemplate", config.summaryTemplate);
      return [];
    } catch (err) {
      if (err instanceof template.TemplateError) return [err.diagnostic()];
      throw err;
    }
  },

  async preview(ctx) {
    return outgoing(ctx, REDACTED);
  },

  async testConnection(config) {
    const answer = await http.deliveryResult(
      fetch(config.url, { method: "HEAD", headers: { authorization: `Bearer ${config.token}` }, signal: AbortSignal.timeout(5_000) }),
    );
    return answer.success ? { success: true, message: "the receiver answered" } : { success: false, message: answer.error ?? "failed" };
  },

  async getConnectionOptions(params) {
    if (params.resolverName !== "severities") return [];
    return ["info", "warning", "critical"].map((s) => ({ value: s, label: s[0]!.toUpperCase() + s.slice(1) }));
  },
};

