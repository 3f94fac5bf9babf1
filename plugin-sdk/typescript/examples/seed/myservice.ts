// The "My Service" provider of the platform's guide (Integration Providers, "Creating a Provider
// Plugin", steps 2 and 3), ported to Switchyard. The only changes are the imports below: the
// platform's `@checkstack/backend-api` and `@checkstack/integration-backend` are
// `@switchyard/plugin-sdk`, whose `fetch` is the global one held to the operator's network
// policy (typed like Bun's, `json()` resolving to `any`). The code after the imports is the
// guide's, unchanged.
import { z } from "zod";
import { Versioned, configString, configNumber, fetch } from "@switchyard/plugin-sdk";

export const myServiceConfigSchemaV1 = z.object({ // Required fields
 apiEndpoint: configString({}).url().describe("Service API endpoint"),

 // Secret fields (encrypted at rest)
 apiKey: configString({ "x-secret": true }).describe("API Key for authentication"),

 // Optional fields with defaults
 timeout: configNumber({}) .min(1_000) .max(60_000) .default(10_000) .describe("Request timeout in milliseconds"),

 // Enum fields
 priority: z.enum(["low", "medium", "high"]) .default("medium") .describe("Alert priority level"),
});

export type MyServiceConfig = z.infer<typeof myServiceConfigSchemaV1>;

// src/provider.ts (continued)
import type { IntegrationProvider, IntegrationDeliveryContext, IntegrationDeliveryResult, TestConnectionResult,} from "@switchyard/plugin-sdk";

export const myServiceProvider: IntegrationProvider<MyServiceConfig> = { id: "myservice", displayName: "My Service", description: "Deliver events to My Service", icon: "Bell", // Lucide icon name

 config: new Versioned({ version: 1, schema: myServiceConfigSchemaV1, }),

 // Optional: Limit which events this provider accepts
 // supportedEvents: ["incident.created", "incident.resolved"],

 async deliver( context: IntegrationDeliveryContext<MyServiceConfig> ): Promise<IntegrationDeliveryResult> { const { event, subscription, providerConfig, logger } = context;

 try { logger.debug(`Delivering to My Service: ${event.eventId}`);

 // Make the API call
 const response = await fetch(providerConfig.apiEndpoint, { method: "POST", headers: { "Content-Type": "application/json", "Authorization": `Bearer ${providerConfig.apiKey}`, }, body: JSON.stringify({ event_type: event.eventId, timestamp: event.timestamp, delivery_id: event.deliveryId, subscription_name: subscription.name, data: event.payload, }), signal: AbortSignal.timeout(providerConfig.timeout), });

 if (!response.ok) { const errorText = await response.text(); return { success: false, error: `HTTP ${response.status}: ${errorText.slice(0, 200)}`, // Optionally request retry after delay
 retryAfterMs: response.status === 429 ? 60_000 : undefined, }; }

 // Parse response to get external ID if available
 const json = await response.json();

 return { success: true, externalId: json.id, // ID from external system
 }; } catch (error) { const message = error instanceof Error ? error.message : String(error); logger.error(`Delivery failed: ${message}`);

 // Network errors should trigger retry
 if (message.includes("timeout") || message.includes("ECONNREFUSED")) { return { success: false, error: message, retryAfterMs: 30_000, }; }

 return { success: false, error: message, }; } },

 // Optional: Test connection functionality
 async testConnection(config: MyServiceConfig): Promise<TestConnectionResult> { try { const response = await fetch(`${config.apiEndpoint}/health`, { method: "GET", headers: { "Authorization": `Bearer ${config.apiKey}`, }, signal: AbortSignal.timeout(5_000), });

 if (response.ok) { return { success: true, message: "Connection successful" }; }

 return { success: false, message: `Server returned ${response.status}`, }; } catch (error) { return { success: false, message: error instanceof Error ? error.message : "Connection failed", }; } },};
