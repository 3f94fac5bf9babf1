// The example plugin's provider `channel-post`, a connection-based provider: a site-wide
// connection (the API's base URL and a token, shared by many subscriptions) and a per-
// subscription channel picked from a dropdown the API fills (`x-options-resolver`), with an
// optional member to mention that depends on the channel. The API: `GET {baseUrl}/channels` and
// `GET {baseUrl}/channels/{id}/members` list `[{id, name}]`; `POST {baseUrl}/channels/{id}/messages`
// takes `{text, mention?, event}`.
import { z } from "zod";
import { configString, fetch, http, OptionsError, Versioned, type ConnectionOption, type IntegrationProvider } from "@switchyard/plugin-sdk";

const connection = z.object({
  baseUrl: configString({}).url().describe("API base URL"),
  apiToken: configString({ "x-secret": true }).min(1).describe("API token"),
});

const config = z.object({
  connectionId: configString({ "x-hidden": true }).describe("Connection"),
  channel: configString({ "x-options-resolver": "channels" }).min(1).describe("Channel"),
  mention: configString({ "x-options-resolver": "members", "x-depends-on": ["channel"], "x-searchable": true }).optional().describe("Mention (optional)"),
});

type Connection = z.infer<typeof connection>;

function api(conn: Connection, ...parts: string[]): string {
  return [conn.baseUrl.replace(/\/+$/, ""), ...parts.map(encodeURIComponent)].join("/");
}

/** `[{id, name}]` from the API, or a problem at the connection field to fix. */
async function list(conn: Connection, url: string): Promise<ConnectionOption[]> {
  const answer = await fetch(url, { headers: { authorization: `Bearer ${conn.apiToken}` }, signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
    throw new OptionsError(`the API cannot be reached: ${err.message}`, "/baseUrl");
  });
  if (answer.status === 401 || answer.status === 403) throw new OptionsError(`the API refused the token (HTTP ${answer.status})`, "/apiToken");
  const items: unknown = answer.ok ? await answer.json().catch(() => undefined) : undefined;
  if (!Array.isArray(items)) throw new OptionsError(`GET ${url} answered HTTP ${answer.status} without a JSON list`, "/baseUrl");
  return items
    .filter((i): i is { id: unknown; name?: unknown } => i !== null && typeof i === "object" && "id" in i)
    .map((i) => ({ value: String(i.id), label: String(i.name ?? i.id) }));
}

export const channelPost: IntegrationProvider<z.infer<typeof config>, Connection> = {
  id: "channel-post",
  displayName: "Channel message (TypeScript example)",
  description: "Posts a short message per event to a channel, using a shared API connection.",
  icon: "message-square",
  config: new Versioned({ version: 1, schema: config }),
  connectionSchema: new Versioned({ version: 1, schema: connection }),
  supportedEvents: ["incident.incident.created", "incident.incident.resolved", "maintenance.maintenance.created"],
  documentation: {
    setupGuide: "Create a connection with the API's base URL and a token, then pick a channel.",
    headers: [{ name: "X-Delivery-Id", description: "The delivery id, the same for every attempt." }],
  },

  async deliver(ctx) {
    const conn = ctx.connection;
    if (conn === undefined) return { success: false, outcome: "permanent", error: "no connection is configured for this subscription" };
    const title = typeof ctx.event.payload["title"] === "string" ? ctx.event.payload["title"] : "";
    const message = {
      text: `[${ctx.event.eventType}] ${title}`.trim(),
      ...(ctx.providerConfig.mention ? { mention: ctx.providerConfig.mention } : {}),
      event: { id: ctx.event.deliveryId, eventType: ctx.event.eventType, data: ctx.event.payload },
    };
    return http.deliveryResult(
      fetch(api(conn, "channels", ctx.providerConfig.channel, "messages"), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${conn.apiToken}`, "x-delivery-id": ctx.event.deliveryId },
        body: JSON.stringify(message),
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]),
      }),
    );
  },

  // Tests a connection (the coordinator's `connections test`): can the token list the channels?
  async testConnectionConfig(conn) {
    try {
      const channels = await list(conn, api(conn, "channels"));
      return { success: true, message: `connected: ${channels.length} channel(s) visible`, details: { channels: channels.length } };
    } catch (err) {
      if (err instanceof OptionsError) return { success: false, message: err.message };
      throw err;
    }
  },

  // A thrown error with a `jsonPath` is answered in-band, as a diagnostic at that field.
  async getConnectionOptions(params) {
    const found = await params.getConnectionWithCredentials(params.connectionId);
    if (found === undefined) return [];
    if (params.resolverName === "channels") return list(found.config, api(found.config, "channels"));
    const channel = params.context?.["channel"];
    return typeof channel === "string" && channel ? list(found.config, api(found.config, "channels", channel, "members")) : [];
  },
};
