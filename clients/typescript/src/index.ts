/**
 * `@switchyard/client`: a typed Node client of the Switchyard platform API
 * (`switchyard.coordinator.v1`), generated from the protos. See the package README.
 *
 * ```ts
 * const sy = new SwitchyardClient("unix:/var/lib/switchyard/switchyard.sock", { token });
 * await sy.events.publishEvent({ eventType: "incident.incident.created", payloadJson: "{}" });
 * ```
 */

export { SwitchyardClient, type CallSettings, type Service, type Watch } from "./client.js";
export { AddressError, resolveAddress, type ConnectOptions, type TlsOptions } from "./address.js";
export * as connection from "./gen/switchyard/coordinator/v1/connection.js";
export * as delivery from "./gen/switchyard/coordinator/v1/delivery.js";
export * as event from "./gen/switchyard/coordinator/v1/event.js";
export * as eventType from "./gen/switchyard/coordinator/v1/event_type.js";
export * as provider from "./gen/switchyard/coordinator/v1/provider.js";
export * as secretKey from "./gen/switchyard/coordinator/v1/secret_key.js";
export * as subscription from "./gen/switchyard/coordinator/v1/subscription.js";
export { DeliveryStatus } from "./gen/switchyard/coordinator/v1/delivery.js";
