/**
 * What traces cost a TypeScript plugin, side by side: two tsexample processes, one without
 * `OTEL_*` variables and one exporting to an OTLP receiver in this process, each sent the same
 * `Deliver` calls (with a `traceparent`, as the coordinator sends them) to the same local HTTP
 * sink, interleaved call by call (the order alternating), after a warm-up. Prints the median and
 * p90 latency of each and their ratio. Not a test (no `.test.js`): run it after `npm run build`
 * with `node dist/test/bench-traces.js [calls]`.
 */

import { Metadata } from "@grpc/grpc-js";

import { call, deliverRequest, HttpSink, startPlugin, TSEXAMPLE, type PluginProcess } from "./kit.js";
import { OtlpReceiver } from "./otlp.js";

const ALLOW = { SWITCHYARD_NETWORK_ALLOW: "127.0.0.0/8" };
const WARMUP = 50;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function timed(p: PluginProcess, request: ReturnType<typeof deliverRequest>, md: Metadata): Promise<number> {
  const start = performance.now();
  await call(p.plugin, p.plugin.deliver, request, 20_000, md);
  return performance.now() - start;
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? "400");
  const sink = await HttpSink.start();
  const receiver = await OtlpReceiver.start();
  const off = await startPlugin(TSEXAMPLE, ALLOW);
  const on = await startPlugin(TSEXAMPLE, { ...ALLOW, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
  const request = deliverRequest("http-post", { url: `${sink.url}/hook`, token: "bench-token-1234" });
  const md = new Metadata();
  md.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  try {
    for (let i = 0; i < WARMUP; i++) for (const p of [off, on]) await timed(p, request, md);
    const times = { off: [] as number[], on: [] as number[] };
    for (let i = 0; i < calls; i++) {
      const order = i % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const);
      for (const which of order) times[which].push(await timed(which === "off" ? off : on, request, md));
    }
    const [a, b] = [times.off.sort((x, y) => x - y), times.on.sort((x, y) => x - y)];
    const line = (name: string, t: number[]) => `${name}: median ${quantile(t, 0.5).toFixed(3)} ms, p90 ${quantile(t, 0.9).toFixed(3)} ms`;
    console.log(`${calls} Deliver calls each, interleaved, after ${WARMUP} warm-up calls`);
    console.log(line("traces off", a));
    console.log(line("traces on ", b));
    console.log(`median ratio on/off: ${(quantile(b, 0.5) / quantile(a, 0.5)).toFixed(3)}`);
    console.log(`spans received so far: ${receiver.spans.length}`);
  } finally {
    await off.close();
    await on.close();
    await receiver.close();
    await sink.close();
  }
}

await main();
