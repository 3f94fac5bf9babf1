// The TypeScript example plugin `tsexample`: its two providers, `http-post` (a URL and a token
// per subscription) and `channel-post` (a shared connection and dropdowns), served by the SDK.
import { serve } from "@switchyard/plugin-sdk";

import { channelPost } from "./channel-post.js";
import { httpPost } from "./http-post.js";

await serve({ pluginId: "tsexample", version: "0.1.0", providers: [httpPost, channelPost] });
