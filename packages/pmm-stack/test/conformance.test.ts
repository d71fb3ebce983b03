import { pmmConformance } from "@allockit/conformance";
import { StackPmm } from "@allockit/pmm-stack";

pmmConformance("pmm-stack", () => new StackPmm());
// The other layout and scrubbing, with fewer random sequences: the code paths differ, the rules not.
pmmConformance(
  "pmm-stack (one link per frame, scrub on free)",
  () => new StackPmm({ framesPerLink: "one", scrub: "on-free" }),
  { numRuns: 200 },
);
