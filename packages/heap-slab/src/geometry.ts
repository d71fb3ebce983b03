import { alignUp } from "@allockit/core";
import {
  MAX_OFF_SLAB_OBJECTS,
  MAX_SLAB_PAGES,
  NO_INDEX,
  OFF_BITMAP,
  OFF_BUFCTL,
  OFF_REQUESTED,
  OFF_SLAB_HEADER_BYTES,
  PAGE_SIZE,
  SLAB_HEADER_BYTES,
  WASTE_DIVISOR,
} from "./layout.js";

/** How a cache lays out its slabs; fixed when the cache is created. */
export interface SlabGeometry {
  /** Bytes per object, as the cache was created with. */
  readonly objectSize: number;
  /** Alignment of every object (a power of two, 8 .. 4096). */
  readonly align: number;
  /** Distance from one object to the next (the object size rounded up to 8 and the alignment). */
  readonly stride: number;
  /** True when slab headers live outside the slab (large objects). */
  readonly offSlab: boolean;
  readonly pagesPerSlab: number;
  readonly objectsPerSlab: number;
  /** Bytes of a slab holding neither objects nor metadata: the room colouring moves through. */
  readonly slackBytes: number;
  /** Distinct colour offsets 0, align, 2 * align ... (1 when colouring is off). */
  readonly colours: number;
  /** On-slab: offset of the slab header from the slab's base; -1 off-slab. */
  readonly headerOffset: number;
  /** Offset of the allocated-object bitmap from the slab header (negative on-slab). */
  readonly bitmapOffset: number;
  /** Offset of the bufctl array (one next-free index per object) from the slab header
   * (negative on-slab). */
  readonly bufctlOffset: number;
  /** Bytes per bufctl: 1, or 2 for on-slab slabs of more than 255 objects. */
  readonly bufctlWidth: number;
  /** The index that ends a free list: 0xff with 1-byte bufctls, 0xffff with 2-byte ones. */
  readonly noIndex: number;
  /** Offset of the requested-size array from the header; -1 when sizes are not kept. */
  readonly requestedOffset: number;
  /** Bytes per requested size: 0 (not kept), 1 or 2. */
  readonly requestedWidth: number;
  /** Metadata bytes per slab: in the slab (on-slab) or in the header object (off-slab). */
  readonly metadataBytes: number;
}

/** What a cache's geometry is computed from. */
export interface GeometryRequest {
  readonly objectSize: number;
  readonly align: number;
  /** Keep the size each caller asked for (the kmalloc caches, for heap statistics). */
  readonly trackRequested: boolean;
  /** Objects of at least this size get off-slab headers. */
  readonly offSlabThreshold: number;
  readonly colouring: boolean;
}

const roundUp8 = (bytes: number): number => alignUp(bytes, 8);

/** Bytes per bufctl of an on-slab slab of `objects` objects (0xff and 0xffff end lists). */
function bufctlWidth(objects: number): number {
  return objects < 0xff ? 1 : 2;
}

/** Bytes of an on-slab slab's metadata for `objects` objects. */
function onSlabMetadata(objects: number, requestedWidth: number): number {
  return (
    SLAB_HEADER_BYTES +
    roundUp8(4 * Math.ceil(objects / 32)) +
    roundUp8(objects * requestedWidth) +
    roundUp8(objects * bufctlWidth(objects))
  );
}

/**
 * Lays out a cache's slabs. Objects below the off-slab threshold live in one-page slabs with
 * the header at the end of the page (Bonwick's small-object layout); larger ones in slabs of as
 * few pages as keep the waste within 1/8 (at most 64 objects, 32 pages), with the header in an
 * object of the internal slab-header cache. Either way the free list is an array of bufctls
 * (next-free indexes) beside the header, so nothing is ever kept inside an object.
 */
export function slabGeometry(request: GeometryRequest): SlabGeometry {
  const { objectSize, align } = request;
  const requestedWidth = request.trackRequested ? (objectSize <= 0xff ? 1 : 2) : 0;
  const body = roundUp8(Math.max(objectSize, 1));
  const stride = alignUp(body, align);
  if (objectSize < request.offSlabThreshold) {
    let objects = Math.floor((PAGE_SIZE - SLAB_HEADER_BYTES) / stride);
    while (objects > 0 && objects * stride + onSlabMetadata(objects, requestedWidth) > PAGE_SIZE)
      objects--;
    if (objects > 0) {
      const metadataBytes = onSlabMetadata(objects, requestedWidth);
      const bitmapBytes = roundUp8(4 * Math.ceil(objects / 32));
      const requestedBytes = roundUp8(objects * requestedWidth);
      const width = bufctlWidth(objects);
      const slackBytes = PAGE_SIZE - metadataBytes - objects * stride;
      return {
        objectSize,
        align,
        stride,
        offSlab: false,
        pagesPerSlab: 1,
        objectsPerSlab: objects,
        slackBytes,
        colours: request.colouring ? Math.floor(slackBytes / align) + 1 : 1,
        headerOffset: PAGE_SIZE - SLAB_HEADER_BYTES,
        bitmapOffset: -bitmapBytes,
        bufctlOffset: -(bitmapBytes + requestedBytes + roundUp8(objects * width)),
        bufctlWidth: width,
        noIndex: width === 1 ? 0xff : 0xffff,
        requestedOffset: requestedWidth === 0 ? -1 : -(bitmapBytes + requestedBytes),
        requestedWidth,
        metadataBytes,
      };
    }
  }
  const [pages, objects] = offSlabSize(stride);
  const slackBytes = pages * PAGE_SIZE - objects * stride;
  return {
    objectSize,
    align,
    stride,
    offSlab: true,
    pagesPerSlab: pages,
    objectsPerSlab: objects,
    slackBytes,
    colours: request.colouring ? Math.floor(slackBytes / align) + 1 : 1,
    headerOffset: -1,
    bitmapOffset: OFF_BITMAP,
    bufctlOffset: OFF_BUFCTL,
    bufctlWidth: 1,
    noIndex: NO_INDEX,
    requestedOffset: requestedWidth === 0 ? -1 : OFF_REQUESTED,
    requestedWidth,
    metadataBytes: OFF_SLAB_HEADER_BYTES,
  };
}

/** [pages, objects] of an off-slab slab: the fewest pages wasting at most 1/8, else the least. */
function offSlabSize(stride: number): [number, number] {
  let bestPages = 0;
  let bestObjects = 0;
  let bestWaste = Infinity;
  for (let pages = 1; pages <= MAX_SLAB_PAGES; pages++) {
    const bytes = pages * PAGE_SIZE;
    const objects = Math.min(Math.floor(bytes / stride), MAX_OFF_SLAB_OBJECTS);
    if (objects < 1) continue;
    const waste = bytes - objects * stride;
    if (waste * WASTE_DIVISOR <= bytes) return [pages, objects];
    if (waste / bytes < bestWaste) {
      bestWaste = waste / bytes;
      bestPages = pages;
      bestObjects = objects;
    }
  }
  return [bestPages, bestObjects];
}
