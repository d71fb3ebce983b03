import type { MemoryMap, PhysRange } from "./memory-map.js";
import type { BootAllocator } from "./boot-allocator.js";
import type { PhysicalMemory } from "./memory.js";

/** Physical memory zones, as Linux names them. */
export type Zone = "DMA" | "DMA32" | "NORMAL";
export const ZONES: readonly Zone[] = ["DMA", "DMA32", "NORMAL"];
/** Default zone limits: DMA below 16 MiB, DMA32 below 4 GiB. */
export const DEFAULT_ZONE_LIMITS: Readonly<Record<Exclude<Zone, "NORMAL">, number>> = {
  DMA: 16 * 1024 * 1024,
  DMA32: 4 * 1024 * 1024 * 1024,
};

/**
 * Constraints of a frame request (the DMA cases). All addresses and sizes in bytes. Without a
 * zone, frames may come from any zone; a PMM prefers NORMAL, then DMA32, then DMA, keeping
 * scarce low memory for the requests that need it (as Linux's zone fallback does).
 */
export interface FrameConstraints {
  /** Take frames from this zone only: DMA [0, 16 MiB), DMA32 [16 MiB, 4 GiB), NORMAL above. */
  zone?: Zone;
  /** The whole run must end at or below this physical address. */
  below?: number;
  /** The run's start is a multiple of this power of two. */
  align?: number;
  /** The run must not cross a multiple of this power of two. */
  boundary?: number;
}

/** What a PMM honours. A request outside it raises EUNSUPPORTED. */
export interface PmmCapabilities {
  /** allocFrames(count > 1) returns a physically contiguous run. */
  contiguous: boolean;
  /** Largest contiguous run it can return, in frames. */
  maxContiguousFrames: number;
  /** Which constraint fields it honours. */
  constraints: ReadonlySet<keyof FrameConstraints>;
  /** Page sizes it hands out naturally aligned, in bytes (4096, 2 MiB, 4 MiB, 1 GiB). */
  pageSizes: readonly number[];
}

export interface ZoneStats {
  totalFrames: number;
  freeFrames: number;
  usedFrames: number;
}

export interface PmmStats {
  /** Frames managed: usable RAM minus frame 0, the kernel, modules and boot allocations. */
  totalFrames: number;
  freeFrames: number;
  usedFrames: number;
  zones: Record<Zone, ZoneStats>;
  /** Bytes of simulated RAM holding the PMM's own metadata. */
  metadataBytes: number;
}

/**
 * A page-frame allocator. Frame 0 is never handed out, so 0 means failure.
 *
 * `init` takes its metadata from the boot allocator, then caps it: the frames it manages are
 * `managedRanges(map, boot)` after that (usable RAM minus `boot.reserved()` and
 * `boot.allocated()`). Init must not touch every frame. `allocFrames` returns a run of `count`
 * frames satisfying the constraints, or 0 when none is free (out of memory is not an error);
 * malformed arguments raise EINVAL and constraints outside `capabilities` EUNSUPPORTED.
 * `freeFrames` of frames not allocated (double free), outside managed RAM (reserved, holes) or
 * misaligned raises a typed error and changes nothing.
 */
export interface PhysicalMemoryManager {
  readonly name: string;
  readonly capabilities: PmmCapabilities;
  /** Takes over from the boot allocator; metadata comes from it and stays reserved. */
  init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void;
  /** Physical address of `count` frames satisfying `constraints`, or 0 when none are free. */
  allocFrames(count: number, constraints?: FrameConstraints): number;
  /** Returns frames; a double, reserved, misaligned or out-of-RAM free throws and changes nothing. */
  freeFrames(addr: number, count: number): void;
  /** Takes a range out of circulation after init (firmware tables found late, say). */
  reserve(range: PhysRange): void;
  stats(): PmmStats;
  check(): void;
  /**
   * Optional query for observers (reports, debuggers): true when the frame holding `addr` is
   * managed and free now, false when it is allocated, or not managed at all (reserved, a hole,
   * PMM metadata, outside RAM). Reads the PMM's own metadata and changes nothing.
   */
  isFrameFree?(addr: number): boolean;
}
