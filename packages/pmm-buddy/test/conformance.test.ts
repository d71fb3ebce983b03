import { pmmConformance } from "@allockit/conformance";
import { BuddyPmm } from "@allockit/pmm-buddy";

pmmConformance("pmm-buddy", () => new BuddyPmm());
pmmConformance(
  "pmm-buddy (maxOrder 18, scrub on-free)",
  () => new BuddyPmm({ maxOrder: 18, scrub: "on-free" }),
);
