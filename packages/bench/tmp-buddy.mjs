import { initialisedPmm, PMM_PLUGINS, opsPerSecond } from "@allockit/bench";
const which = (process.argv[2] ?? "pmm-buddy,pmm-stack").split(",");
const occs = (process.argv[3] ?? "0,0.9").split(",").map(Number);
const ops = Number(process.argv[4] ?? 4_000_000);
function occupy(pmm, occupancy) {
  const held = [];
  for (let f = pmm.allocFrames(1); f !== 0; f = pmm.allocFrames(1)) held.push(f);
  for (let i = 0; i < held.length; i++) {
    const keep = Math.floor((i + 1) * occupancy) > Math.floor(i * occupancy);
    if (!keep) pmm.freeFrames(held[i], 1);
  }
}
function frameLoop(pmm) {
  const batch = new Float64Array(32);
  return (operations) => { let sum = 0;
    for (let done = 0; done < operations; done += 64) {
      for (let i = 0; i < 32; i++) batch[i] = pmm.allocFrames(1);
      for (let i = 0; i < 32; i++) { sum += batch[i]; if (batch[i] !== 0) pmm.freeFrames(batch[i], 1); }
    } return sum; };
}
for (const [plugin, manifest] of PMM_PLUGINS) {
  if (!which.includes(plugin)) continue;
  for (const occ of occs) {
    const pmm = initialisedPmm(manifest, 1); occupy(pmm, occ);
    const r = opsPerSecond(frameLoop(pmm), { runs: 7, operations: ops });
    pmm.check();
    console.log(plugin, occ, (r / 1e6).toFixed(2) + " M");
  }
}
