/**
 * Where the coordinator's API is and how to reach it: `unix:/path/to/switchyard.sock` (also
 * `unix:///path` and a bare absolute path), `http://host:port` or `host:port` (plaintext TCP),
 * `https://host:port` (TLS, with the CA that signed the coordinator's certificate and, when the
 * coordinator requires one, a client certificate). Turns that into a grpc-js target and channel
 * credentials, and the bearer token into an interceptor that adds `authorization` to every call
 * (grpc-js refuses call credentials on a plaintext channel, which the Unix socket is).
 */

import { credentials, InterceptingCall, type ChannelCredentials, type Interceptor } from "@grpc/grpc-js";

/** TLS material for an `https://` address (PEM). */
export interface TlsOptions {
  /** The CA certificate that signed the coordinator's certificate. */
  ca?: Buffer | string;
  /** A client certificate and its key, for a coordinator with `api.tls.client_ca_file`. */
  cert?: Buffer | string;
  key?: Buffer | string;
}

/** How to connect. */
export interface ConnectOptions {
  /** Bearer token (`api.auth_token` or an `[[api.tokens]]` token). */
  token?: string;
  tls?: TlsOptions;
}

/** The address is not one of the accepted forms. */
export class AddressError extends Error {
  override name = "AddressError";
}

const pem = (v: Buffer | string | undefined) => (v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v));

/** The grpc-js target and credentials of `address`. */
export function resolveAddress(address: string, tls: TlsOptions = {}): { target: string; creds: ChannelCredentials } {
  const text = address.trim();
  if (text.startsWith("unix:") || text.startsWith("/")) {
    const path = text.replace(/^unix:(\/\/)?/, "");
    if (!path.startsWith("/")) throw new AddressError(`${JSON.stringify(address)}: a Unix socket address needs an absolute path (unix:/path/to/switchyard.sock)`);
    return { target: `unix:${path}`, creds: credentials.createInsecure() };
  }
  const match = /^(?:(https?):\/\/)?([^/]+?)\/?$/.exec(text);
  if (!match || !/:\d+$/.test(match[2] ?? "")) {
    throw new AddressError(`${JSON.stringify(address)} is not an address: use unix:/path/to/switchyard.sock, http://host:port or https://host:port`);
  }
  const target = match[2] ?? "";
  if (match[1] === "https") return { target, creds: credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert)) };
  return { target, creds: credentials.createInsecure() };
}

/** Adds `authorization: Bearer <token>` to every call. */
export function bearer(token: string): Interceptor {
  return (options, next) =>
    new InterceptingCall(next(options), {
      start(metadata, listener, start) {
        metadata.set("authorization", `Bearer ${token}`);
        start(metadata, listener);
      },
    });
}
