/** The SDK's version, sent in the default `User-Agent` and in the plugin's first log line. */
export const SDK_VERSION = "0.1.0";
