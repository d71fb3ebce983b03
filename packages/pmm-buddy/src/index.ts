/**
 * @allockit/pmm-buddy: a binary buddy page-frame allocator. The default export is the plugin
 * manifest; BuddyPmm is the allocator itself, usable without a container.
 */
export { BuddyPmm } from "./buddy-pmm.js";
export {
  DEFAULT_MAX_ORDER,
  MAX_MAX_ORDER,
  SCRUB_POLICIES,
  resolveBuddyPmmOptions,
} from "./options.js";
export type { BuddyPmmOptions, ResolvedBuddyPmmOptions, ScrubPolicy } from "./options.js";
export { default } from "./plugin.js";
