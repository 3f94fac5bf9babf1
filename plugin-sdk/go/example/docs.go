package main

import switchyard "github.com/switchyard-dev/switchyard/plugin-sdk/go"

// docs is the provider's setup guide, example payload and headers, shown in the UI.
var docs = switchyard.Documentation{
	SetupGuide: `## Notify (Go example)

1. Run an HTTP receiver that accepts ` + "`POST`" + ` with a JSON body.
2. Set **Receiver URL** to it, and **Bearer token** if it wants one (stored encrypted).
3. Optionally change **Message**: a template such as ` + "`{{ eventType }}: {{ payload.title }}`" + `;
   a missing value renders empty.

Each delivery sends one request; a 2xx answer is delivered (its JSON ` + "`id`" + ` becomes the
external id), 429/503 defer by Retry-After, other 5xx retry, other 4xx fail for good.`,
	ExamplePayload: `{"text":"incident.incident.created: Checkout down","eventType":"incident.incident.created","deliveryId":"del-1"}`,
	Headers: []switchyard.HeaderDoc{
		{Name: "Authorization", Description: "`Bearer <token>` when a token is configured."},
		{Name: "Idempotency-Key", Description: "The delivery id: the same on every attempt of a delivery."},
	},
}
