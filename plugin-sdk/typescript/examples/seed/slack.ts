// The "Example: Slack Provider" of the platform's guide, ported to Switchyard. Changed: the
// imports below (the guide leaves them out; `SlackConfig` is not defined there either, so it is
// declared here from the schema). The provider object is the guide's, unchanged.
import { z } from "zod";
import { Versioned, configString, fetch, type IntegrationProvider } from "@switchyard/plugin-sdk";

type SlackConfig = { webhookUrl: string; channel?: string | undefined; username: string; iconEmoji: string };

export const slackProvider: IntegrationProvider<SlackConfig> = { id: "slack", displayName: "Slack", description: "Post messages to Slack channels", icon: "MessageSquare",

 config: new Versioned({ version: 1, schema: z.object({ webhookUrl: configString({ "x-secret": true }).describe("Slack Incoming Webhook URL"), channel: configString({}).optional().describe("Override channel (optional)"), username: configString({}).default("Checkstack").describe("Bot username"), iconEmoji: configString({}).default(":robot_face:").describe("Bot icon emoji"), }), }),

 async deliver(context) { const { event, providerConfig } = context;

 const response = await fetch(providerConfig.webhookUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ channel: providerConfig.channel, username: providerConfig.username, icon_emoji: providerConfig.iconEmoji, text: `*${event.eventId}*\n${JSON.stringify(event.payload, null, 2)}`, }), });

 if (!response.ok) { return { success: false, error: await response.text() }; }

 return { success: true }; },};
