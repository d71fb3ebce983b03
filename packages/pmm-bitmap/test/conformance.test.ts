import { pmmConformance } from "@allockit/conformance";
import { BitmapPmm } from "@allockit/pmm-bitmap";

pmmConformance("pmm-bitmap", () => new BitmapPmm());
