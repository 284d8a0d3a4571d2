// dnsperf's report, read: counts, rcodes, throughput, latency and its histogram (when -O histogram
// asked for one). Null when the output is not a dnsperf report.

export function parseDnsperf(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : null; };
  const sent = num(/Queries sent:\s+(\d+)/);
  const completed = num(/Queries completed:\s+(\d+)/);
  if (sent === null || completed === null) return null;
  const rcodes = {};
  const rc = /Response codes:\s+(.*)/.exec(out)?.[1] ?? '';
  for (const m of rc.matchAll(/([A-Z]+) (\d+) \(/g)) rcodes[m[1]] = Number(m[2]);
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(out);
  // Only the "answer count" block: some dnsperf versions print the same histogram again under
  // "Connection Statistics".
  let buckets = null;
  const hist = /Latency bucket \(s\):\s+answer count\n((?:\s+[\d.]+ - [\d.]+:\s+\d+\n?)*)/.exec(out);
  if (hist) {
    buckets = [...hist[1].matchAll(/([\d.]+) - ([\d.]+):\s+(\d+)/g)].map((m) => ({ lo: Number(m[1]), hi: Number(m[2]), n: Number(m[3]) }));
  }
  return {
    sent, completed,
    lost: num(/Queries lost:\s+(\d+)/) ?? 0,
    interrupted: num(/Queries interrupted:\s+(\d+)/) ?? 0,
    qps: num(/Queries per second:\s+([\d.]+)/),
    runTime: num(/Run time \(s\):\s+([\d.]+)/),
    avgMs: lat ? Number(lat[1]) * 1000 : null,
    minMs: lat ? Number(lat[2]) * 1000 : null,
    maxMs: lat ? Number(lat[3]) * 1000 : null,
    sdMs: (num(/Latency StdDev \(s\):\s+([\d.]+)/) ?? NaN) * 1000,
    rcodes,
    percentiles: buckets ? { p50: percentile(buckets, 0.5), p95: percentile(buckets, 0.95), p99: percentile(buckets, 0.99) } : null,
  };
}

/** The p-quantile from histogram buckets, in ms, interpolating linearly inside a bucket. */
function percentile(buckets, p) {
  const total = buckets.reduce((a, b) => a + b.n, 0);
  if (total === 0) return null;
  const rank = p * total;
  let seen = 0;
  for (const b of buckets) {
    if (seen + b.n >= rank) return (b.lo + ((b.hi - b.lo) * (rank - seen)) / b.n) * 1000;
    seen += b.n;
  }
  return buckets[buckets.length - 1].hi * 1000;
}
