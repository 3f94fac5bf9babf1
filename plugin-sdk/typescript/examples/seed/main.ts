// Registration of the guide's providers ("4. Register the Provider"), the one part a port
// rewrites: the platform's `createBackendPlugin` + `extensionPoint.addProvider(provider,
// pluginMetadata)` becomes one `serve()` call naming the plugin id and its providers.
import { serve } from "@switchyard/plugin-sdk";

import { myServiceProvider } from "./myservice.js";
import { slackProvider } from "./slack.js";

await serve({ pluginId: "seed", version: "0.0.1", providers: [myServiceProvider, slackProvider] });
