import { PAGE_SIZE, type PhysicalMemory } from "@allockit/core";
import { FRAME_NUMBER_BYTES, readFrameNumber, writeFrameNumber } from "./frame-number.js";
import { corruptLink, describeFrame, type FreeFrameOwner, type FreeStacks } from "./free-stacks.js";
import { ZONE_COUNT } from "./zones.js";

/**
 * The classic free stack: each free frame holds, in its first 8 bytes, the frame number of the
 * free frame below it (0 = bottom). A push writes the pushed frame, a pop reads the popped one.
 */
export class LinkedFreeStacks implements FreeStacks {
  readonly frames = new Float64Array(ZONE_COUNT);
  poppedBit = -1;
  /** Frame number of each zone's top frame, 0 when the stack is empty. */
  private readonly top = new Float64Array(ZONE_COUNT);

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly owner: FreeFrameOwner,
    /** Clear the link of a frame before it is handed out. */
    private readonly scrubLinks: boolean,
  ) {}

  push(zone: number, frame: number): void {
    writeFrameNumber(this.memory, frame * PAGE_SIZE, this.top[zone]!);
    this.top[zone] = frame;
    this.frames[zone]++;
  }

  pop(zone: number): number {
    const frame = this.top[zone]!;
    const bit = this.owner.freeBitOf(frame, zone);
    if (bit < 0) throw corruptLink("top frame", frame, zone);
    // The next link is vetted when it is popped in turn; here only its presence must match
    // the count, so a garbage link at the bottom is caught too.
    const below = readFrameNumber(this.memory, frame * PAGE_SIZE);
    if ((below === 0) !== (this.frames[zone] === 1)) {
      throw corruptLink(`link below ${describeFrame(frame)}:`, below, zone);
    }
    if (this.scrubLinks) this.memory.fill(frame * PAGE_SIZE, 0, FRAME_NUMBER_BYTES);
    this.top[zone] = below;
    this.frames[zone]--;
    this.poppedBit = bit;
    return frame;
  }

  walk(zone: number, visit: (frame: number) => boolean): number {
    let visited = 0;
    for (let frame = this.top[zone]!; frame !== 0;) {
      if (!visit(frame)) return visited;
      visited++;
      frame = readFrameNumber(this.memory, frame * PAGE_SIZE);
    }
    return visited;
  }

  retain(zone: number, keep: (frame: number) => boolean): void {
    let frame = this.top[zone]!;
    this.top[zone] = 0;
    this.frames[zone] = 0;
    while (frame !== 0) {
      if (this.owner.freeBitOf(frame, zone) < 0) throw corruptLink("link", frame, zone);
      // Read the link before a push overwrites it.
      const below = readFrameNumber(this.memory, frame * PAGE_SIZE);
      if (keep(frame)) this.push(zone, frame);
      frame = below;
    }
  }
}
