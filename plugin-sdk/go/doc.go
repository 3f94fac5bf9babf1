// Package switchyard is the Go SDK for Switchyard provider plugins.
//
// A plugin is an executable the Switchyard coordinator starts as a child process. It speaks
// hashicorp/go-plugin's handshake (this SDK serves through go-plugin v1.8 with Switchyard's
// magic cookie fixed, see docs/handshake.md) and serves switchyard.plugin.v1.ProviderPlugin.
// An author writes [Provider] values and calls [Serve]:
//
//	func main() { switchyard.Serve(&myProvider{}) }
//
// What the SDK does for every provider:
//   - Describe from each provider's [ProviderInfo]; capabilities from the optional interfaces
//     it implements ([ConnectionTester], [ConfigValidator]).
//   - Go-native requests and results ([Delivery], [Result]); errors returned by a provider
//     become the documented gRPC codes ([ErrUnknownProvider] → NOT_FOUND, a [*ConfigError]
//     → OK with diagnostics and a permanent outcome, [ErrUnimplemented] → UNIMPLEMENTED,
//     a cancelled context → CANCELLED, anything else → INTERNAL).
//   - The values of the config's x-secret fields are scrubbed from every text the plugin
//     returns (errors, diagnostics, response excerpts, state), so a receiver that echoes a
//     credential does not leak it into delivery records.
//   - Each call's context is cancelled when the call is cancelled, when its deadline passes,
//     and when the host calls plugin.GRPCController/Shutdown.
//   - Logs: [Logger] is an hclog JSON logger on stderr, which the host re-emits with the
//     plugin's name and level. Anything the handlers print to stdout or stderr travels over
//     go-plugin's plugin.GRPCStdio stream, which the host reads and logs.
//   - The plugin exits when its parent (the coordinator) goes away, besides the parent-death
//     signal the host sets.
//
// Helpers: package httpx (Retry-After, classification of HTTP answers into outcomes, an HTTP
// client held to the network policy), package netpolicy (SWITCHYARD_NETWORK_ALLOW, with the
// Rust SDK's refusal text), package template (`{{ payload.title }}` fields with the Rust
// SDK's missing-value rule). See docs/writing-a-plugin-go.md.
package switchyard
