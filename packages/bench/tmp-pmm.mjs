import { measurePmmThroughput } from "@allockit/bench";
for (const r of measurePmmThroughput({ runs: 7, operations: 4_000_000 }, 1)) console.log(r.plugin, r.occupancy, (r.opsPerSec / 1e6).toFixed(2) + " M");
