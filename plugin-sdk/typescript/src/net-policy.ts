/**
 * The network policy, with the same rules and refusal text as the Rust SDK's
 * (`plugin-sdk/rust/src/net_policy*`): only public addresses are reachable, unless the operator
 * allows a subnet in the coordinator's `[plugins] network_allow`, which every plugin receives in
 * `SWITCHYARD_NETWORK_ALLOW` (comma-separated CIDRs; a bare address is that one address).
 * Refused by default: loopback, private, link-local, CGNAT, IPv6 unique-local, multicast,
 * unspecified, reserved ranges, the cloud metadata addresses, and IPv6 forms that carry one of
 * them (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), judged by the address they carry.
 * Pure functions over parsed addresses; the HTTP client that applies them is `fetch.ts`.
 */

import { isIPv4, isIPv6 } from "node:net";

/** The variable the host sets for every plugin. */
export const ALLOW_ENV = "SWITCHYARD_NETWORK_ALLOW";

/** A parsed address: 4 or 16 bytes. */
export interface Address {
  v6: boolean;
  bytes: number[];
}

export type Category =
  | "loopback"
  | "private"
  | "link_local"
  | "cgnat"
  | "unique_local"
  | "multicast"
  | "unspecified"
  | "metadata"
  | "reserved";

const DESCRIBE: Record<Category, string> = {
  loopback: "a loopback address (127.0.0.0/8, ::1)",
  private: "a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)",
  "link_local": "a link-local address (169.254.0.0/16, fe80::/10)",
  cgnat: "a carrier-grade NAT address (100.64.0.0/10)",
  "unique_local": "an IPv6 unique-local address (fc00::/7)",
  multicast: "a multicast address (224.0.0.0/4, ff00::/8)",
  unspecified: "an unspecified address (0.0.0.0/8, ::)",
  metadata: "a cloud metadata address (169.254.169.254, fd00:ec2::254)",
  reserved: "a reserved address that is not routable on the internet",
};

/** How an IPv6 address carries an IPv4 one. */
export type Embedding = "ipv4_mapped" | "ipv4_compatible" | "nat64" | "6to4" | "teredo";

const FORMS: Record<Embedding, string> = {
  ipv4_mapped: "an IPv4-mapped",
  ipv4_compatible: "an IPv4-compatible",
  nat64: "a NAT64",
  "6to4": "a 6to4",
  teredo: "a Teredo",
};

/** Why an address is not public, and the IPv4 address an IPv6 form carries, if any. */
export interface Verdict {
  category: Category;
  embedded?: { form: Embedding; v4: Address };
}

/** Parses an IPv4 or IPv6 literal (brackets and a zone id allowed), or undefined. */
export function parseAddress(text: string): Address | undefined {
  const bare = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIPv4(bare)) return { v6: false, bytes: bare.split(".").map(Number) };
  if (!isIPv6(bare)) return undefined;
  let head = bare;
  const tailV4: number[] = [];
  const lastColon = bare.lastIndexOf(":");
  if (isIPv4(bare.slice(lastColon + 1))) {
    tailV4.push(...bare.slice(lastColon + 1).split(".").map(Number));
    head = bare.slice(0, lastColon + 1) + "0:0";
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const group = (s: string | undefined) => (s ? s.split(":").filter((x) => x !== "").map((x) => parseInt(x, 16)) : []);
  const l = group(left);
  const r = group(right);
  const segments = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const bytes = segments.flatMap((s) => [s >> 8, s & 0xff]);
  if (tailV4.length) bytes.splice(12, 4, ...tailV4);
  return { v6: true, bytes };
}

function segmentsOf(a: Address): number[] {
  const out: number[] = [];
  for (let i = 0; i < 16; i += 2) out.push(((a.bytes[i] ?? 0) << 8) | (a.bytes[i + 1] ?? 0));
  return out;
}

/** The address as Rust prints it (`10.0.0.5`, `::1`, `::ffff:127.0.0.1`). */
export function formatAddress(a: Address): string {
  if (!a.v6) return a.bytes.join(".");
  const s = segmentsOf(a);
  if (s.slice(0, 5).every((x) => x === 0) && s[5] === 0xffff) return `::ffff:${a.bytes.slice(12).join(".")}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && s[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = s.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

function v4(bytes: number[]): Address {
  return { v6: false, bytes };
}

/** The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4, Teredo). */
export function embeddedV4(a: Address): { form: Embedding; v4: Address } | undefined {
  const s = segmentsOf(a);
  const low = a.bytes.slice(12, 16);
  const zeros = (n: number) => s.slice(0, n).every((x) => x === 0);
  if (zeros(5) && s[5] === 0xffff) return { form: "ipv4_mapped", v4: v4(low) };
  const lowValue = ((low[0] ?? 0) << 24) + ((low[1] ?? 0) << 16) + ((low[2] ?? 0) << 8) + (low[3] ?? 0);
  // `::` and `::1` are their own categories, not IPv4-compatible forms.
  if (zeros(6) && lowValue > 1) return { form: "ipv4_compatible", v4: v4(low) };
  if (s[0] === 0x64 && s[1] === 0xff9b && s.slice(2, 6).every((x) => x === 0)) return { form: "nat64", v4: v4(low) };
  if (s[0] === 0x2002) return { form: "6to4", v4: v4(a.bytes.slice(2, 6)) };
  // Teredo stores the client address inverted.
  if (s[0] === 0x2001 && s[1] === 0) return { form: "teredo", v4: v4(low.map((b) => ~b & 0xff)) };
  return undefined;
}

function classifyV4(b: number[]): Category | undefined {
  const [a = 0, c1 = 0, c2 = 0, d = 0] = b;
  if (a === 169 && c1 === 254 && c2 === 169 && d === 254) return "metadata";
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 192 && c1 === 168) || (a === 172 && c1 >= 16 && c1 <= 31)) return "private";
  if (a === 169 && c1 === 254) return "link_local";
  if (a === 100 && c1 >= 64 && c1 <= 127) return "cgnat";
  if (a >= 224 && a <= 239) return "multicast";
  if (
    a >= 240 ||
    (a === 192 && c1 === 0 && (c2 === 0 || c2 === 2)) ||
    (a === 198 && (c1 === 18 || c1 === 19)) ||
    (a === 198 && c1 === 51 && c2 === 100) ||
    (a === 203 && c1 === 0 && c2 === 113)
  )
    return "reserved";
  return undefined;
}

function classifyV6(a: Address): Verdict | undefined {
  const s = segmentsOf(a);
  if (s.every((x) => x === 0)) return { category: "unspecified" };
  if (s.slice(0, 7).every((x) => x === 0) && s[7] === 1) return { category: "loopback" };
  if (formatAddress(a) === "fd00:ec2::254") return { category: "metadata" };
  const embedded = embeddedV4(a);
  if (embedded) {
    const category = classifyV4(embedded.v4.bytes);
    return category ? { category, embedded } : undefined;
  }
  const first = s[0] ?? 0;
  if (first >= 0xfe80 && first <= 0xfebf) return { category: "link_local" };
  if (first >= 0xfec0 && first <= 0xfeff) return { category: "reserved" };
  if (first >= 0xfc00 && first <= 0xfdff) return { category: "unique_local" };
  if (first >= 0xff00) return { category: "multicast" };
  if (first === 0x0100 && s[1] === 0 && s[2] === 0 && s[3] === 0) return { category: "reserved" };
  if (first === 0x2001 && s[1] === 0x0db8) return { category: "reserved" };
  if (first === 0x0064 && s[1] === 0xff9b && s[2] === 1) return { category: "reserved" };
  return undefined;
}

/** Why `address` is not public, or undefined when it is. */
export function classify(address: Address): Verdict | undefined {
  if (!address.v6) {
    const category = classifyV4(address.bytes);
    return category ? { category } : undefined;
  }
  return classifyV6(address);
}

/** A subnet of the allow-list. */
export interface Subnet {
  base: Address;
  prefix: number;
}

/** A subnet as the Rust SDK prints it (`10.0.0.5/32`, `fd00::/8`). */
export function formatSubnet(net: Subnet): string {
  return `${formatAddress(net.base)}/${net.prefix}`;
}

function contains(net: Subnet, a: Address): boolean {
  if (net.base.v6 !== a.v6) return false;
  for (let bit = 0; bit < net.prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((net.base.bytes[byte] ?? 0) & mask) !== ((a.bytes[byte] ?? 0) & mask)) return false;
  }
  return true;
}

/** The policy refused an address; the message names it, the reason and the setting. */
export class NetworkPolicyRefusal extends Error {
  constructor(
    readonly address: Address,
    readonly verdict: Verdict,
    readonly host?: string,
  ) {
    super(refusalText(address, verdict, host));
    this.name = "NetworkPolicyRefusal";
  }
}

function refusalText(address: Address, verdict: Verdict, host?: string): string {
  const shown = formatAddress(address);
  const who = host === undefined ? shown : `${host} (resolved to ${shown})`;
  const subject = verdict.embedded ? verdict.embedded.v4 : address;
  const subnet = `${formatAddress(subject)}/${subject.v6 ? 128 : 32}`;
  const what = verdict.embedded
    ? `it is ${FORMS[verdict.embedded.form]} form of ${formatAddress(verdict.embedded.v4)}, `
    : "it is ";
  return (
    `the network policy refused ${who}: ${what}${DESCRIBE[verdict.category]}. Only public addresses are ` +
    `allowed unless the operator adds the subnet (e.g. ${subnet}) to the coordinator's ` +
    `\`[plugins] network_allow\`, which plugins receive in ${ALLOW_ENV}`
  );
}

/** An unreadable allow-list entry. */
export class PolicyError extends Error {
  constructor(
    readonly position: number,
    readonly entry: string,
  ) {
    super(
      `${ALLOW_ENV}: entry ${position} (${JSON.stringify(entry)}) is not a subnet; write CIDRs such as ` +
        "127.0.0.0/8 or fd00::/8, separated by commas",
    );
    this.name = "PolicyError";
  }
}

function parseSubnet(entry: string): Subnet | undefined {
  const [addr = "", prefixText, extra] = entry.split("/");
  // A zone id (`fe80::1%eth0`) names an interface, not a subnet.
  if (extra !== undefined || addr.includes("%")) return undefined;
  const base = parseAddress(addr);
  if (base === undefined || addr.includes("[")) return undefined;
  const max = base.v6 ? 128 : 32;
  if (prefixText === undefined) return { base, prefix: max };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return { base, prefix: Number(prefixText) };
}

/** Public addresses plus the allowed subnets. */
export class NetworkPolicy {
  constructor(readonly allow: readonly Subnet[] = []) {}

  /** `127.0.0.0/8, fd00::/8, 10.0.0.5`; throws {@link PolicyError} for an unreadable entry. */
  static parse(text: string): NetworkPolicy {
    const allow: Subnet[] = [];
    text.split(",").forEach((raw, index) => {
      const entry = raw.trim();
      if (!entry) return;
      const net = parseSubnet(entry);
      if (net === undefined) throw new PolicyError(index + 1, entry);
      allow.push(net);
    });
    return new NetworkPolicy(allow);
  }

  /** The policy in `SWITCHYARD_NETWORK_ALLOW`. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): NetworkPolicy {
    return NetworkPolicy.parse(env[ALLOW_ENV] ?? "");
  }

  /** Throws {@link NetworkPolicyRefusal} unless `address` may be reached. */
  check(address: Address, host?: string): void {
    const verdict = classify(address);
    if (verdict === undefined) return;
    const carried = verdict.embedded?.v4;
    if (this.allow.some((net) => contains(net, address) || (carried !== undefined && contains(net, carried)))) return;
    throw new NetworkPolicyRefusal(address, verdict, host);
  }
}
