/** Who holds a physical frame, as the report's frame map colours it. */
export type FrameOwner =
  | "hole"
  | "reserved"
  | "kernel-image"
  | "pmm-metadata"
  | "page-tables"
  | "zero-page"
  | "heap"
  | "kernel-pages"
  | "user"
  | "free"
  | "other";

/** One owner as the report shows it: its id in the run-length encoding, label and colour. */
export interface OwnerInfo {
  id: number;
  key: FrameOwner;
  label: string;
  colour: string;
  description: string;
}

/** The owners, in id order (a frame map's runs store the id). */
export const FRAME_OWNERS: readonly OwnerInfo[] = [
  {
    key: "hole",
    label: "hole",
    colour: "#d9d9d9",
    description: "no firmware memory-map entry covers it",
  },
  {
    key: "reserved",
    label: "reserved",
    colour: "#7f7f7f",
    description: "firmware reserved, ACPI, bad memory, frame 0 and boot modules",
  },
  {
    key: "kernel-image",
    label: "kernel image",
    colour: "#6a3d9a",
    description: "where the boot loader put the kernel",
  },
  {
    key: "pmm-metadata",
    label: "PMM metadata",
    colour: "#e31a1c",
    description: "what the boot allocator handed out: the PMM's bitmaps, tables and lists",
  },
  {
    key: "page-tables",
    label: "page tables",
    colour: "#ff7f00",
    description: "frames holding page tables of any address space",
  },
  {
    key: "zero-page",
    label: "zero page",
    colour: "#b15928",
    description: "the shared zero page of demand-zero reads",
  },
  {
    key: "heap",
    label: "heap",
    colour: "#1f78b4",
    description: "frames mapped in heap regions of the kernel space",
  },
  {
    key: "kernel-pages",
    label: "kernel pages",
    colour: "#a6cee3",
    description: "frames mapped in other demand-paged kernel regions (anonymous, stacks)",
  },
  {
    key: "user",
    label: "user",
    colour: "#33a02c",
    description: "frames mapped in user address spaces",
  },
  {
    key: "free",
    label: "free",
    colour: "#f4f1de",
    description: "free in the PMM",
  },
  {
    key: "other",
    label: "other",
    colour: "#fb9a99",
    description:
      "usable RAM that is allocated but mapped nowhere the report looked (or, with a PMM that cannot tell free frames, not known to be free)",
  },
].map((owner, id) => ({ ...owner, id, key: owner.key as FrameOwner }));

/** The id of an owner. */
export function ownerId(key: FrameOwner): number {
  const owner = FRAME_OWNERS.find((o) => o.key === key);
  if (owner === undefined) throw new Error(`unknown frame owner ${key}`);
  return owner.id;
}
