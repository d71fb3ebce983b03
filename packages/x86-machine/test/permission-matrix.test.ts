/**
 * The full access-rights matrix of Intel SDM vol. 3A 4.6.1 (with the error code of 4.7, the
 * reserved XD bit of 4.3-4.5 and the A/D rules of 4.8), generated programmatically and checked
 * against `cpu.probe`, once on a cold TLB (a walk) and once through a TLB entry filled by an
 * earlier access (so nothing that depends on CPL, CR0.WP, SMEP, SMAP or RFLAGS.AC leaks through
 * the cache).
 *
 * The expected outcome comes from the small model below, written from the SDM text, not from
 * the implementation's rights code.
 */
import { describe, expect, it } from "vitest";
import {
  CR0_WP,
  CR4_SMAP,
  CR4_SMEP,
  EFER_NXE,
  GeneralProtectionError,
  Machine,
  PageFaultError,
  type AccessKind,
  type Cpu,
} from "@allockit/x86-machine";

// Entry bits and error-code bits, spelled out here from the SDM tables (4-4 .. 4-20, 4.7).
const P = 0x1;
const RW = 0x2;
const US = 0x4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const XD_HIGH = 0x80000000; // bit 63 of an 8-byte entry
const CR4_PSE_BIT = 0x10;

const EC_P = 0x1;
const EC_W = 0x2;
const EC_U = 0x4;
const EC_RSVD = 0x8;
const EC_I = 0x10;

type Mode = "32bit" | "pae" | "long";

/** A paging-structure entry that carries rights (U/S, R/W, and XD in 8-byte formats). */
interface Level {
  name: string;
  /** Physical address of the entry. */
  at: number;
  /** Physical address it points to (next table or page frame). */
  target: number;
  /** Maps a large page (PS=1). */
  ps: boolean;
}

interface Geometry {
  mode: Mode;
  page: string;
  /** Linear address probed (packed 48-bit in long mode). */
  va: number;
  cr3: number;
  levels: Level[];
  /** Entries that carry no rights (the PAE PDPTE): written once. */
  fixed: Array<{ at: number; low: number }>;
  /** Physical address the translation must produce. */
  pa: number;
  cr4: number;
  /** The data frame is RAM, so the Memory interface (cpu.read32 / write32) can be used too. */
  dataInRam: boolean;
}

const T0 = 0x10000;
const T1 = 0x11000;
const T2 = 0x12000;
const T3 = 0x13000;
const FRAME_4K = 0x200000;
const FRAME_2M = 0x400000;
const FRAME_4M = 0x800000;
const FRAME_1G = 0x40000000; // beyond RAM: probe only translates, the data is never touched

// 32-bit: PDE index 5, PTE index 4, offset 0x567.
const VA32 = (5 << 22) + (4 << 12) + 0x567;
// PAE: PDPTE index 2, PDE index 3, PTE index 4, offset 0x567.
const VAPAE = 2 * 2 ** 30 + 3 * 2 ** 21 + 4 * 2 ** 12 + 0x567;
// 4-level: PML4 index 257 (upper half: canonical 0xffff8080_80604567), PDPT 2, PD 3, PT 4.
const VALONG = 257 * 2 ** 39 + 2 * 2 ** 30 + 3 * 2 ** 21 + 4 * 2 ** 12 + 0x567;

const GEOMETRIES: Geometry[] = [
  {
    mode: "32bit",
    page: "4 KiB",
    va: VA32,
    cr3: T0,
    levels: [
      { name: "PDE", at: T0 + 5 * 4, target: T1, ps: false },
      { name: "PTE", at: T1 + 4 * 4, target: FRAME_4K, ps: false },
    ],
    fixed: [],
    pa: FRAME_4K + 0x567,
    cr4: 0,
    dataInRam: true,
  },
  {
    mode: "32bit",
    page: "4 MiB",
    va: VA32,
    cr3: T0,
    levels: [{ name: "PDE", at: T0 + 5 * 4, target: FRAME_4M, ps: true }],
    fixed: [],
    pa: FRAME_4M + (VA32 % 2 ** 22),
    cr4: CR4_PSE_BIT,
    dataInRam: true,
  },
  {
    mode: "pae",
    page: "4 KiB",
    va: VAPAE,
    cr3: T0,
    levels: [
      { name: "PDE", at: T1 + 3 * 8, target: T2, ps: false },
      { name: "PTE", at: T2 + 4 * 8, target: FRAME_4K, ps: false },
    ],
    fixed: [{ at: T0 + 2 * 8, low: T1 | P }],
    pa: FRAME_4K + 0x567,
    cr4: 0,
    dataInRam: true,
  },
  {
    mode: "pae",
    page: "2 MiB",
    va: VAPAE,
    cr3: T0,
    levels: [{ name: "PDE", at: T1 + 3 * 8, target: FRAME_2M, ps: true }],
    fixed: [{ at: T0 + 2 * 8, low: T1 | P }],
    pa: FRAME_2M + (VAPAE % 2 ** 21),
    cr4: 0,
    dataInRam: true,
  },
  {
    mode: "long",
    page: "4 KiB",
    va: VALONG,
    cr3: T0,
    levels: [
      { name: "PML4E", at: T0 + 257 * 8, target: T1, ps: false },
      { name: "PDPTE", at: T1 + 2 * 8, target: T2, ps: false },
      { name: "PDE", at: T2 + 3 * 8, target: T3, ps: false },
      { name: "PTE", at: T3 + 4 * 8, target: FRAME_4K, ps: false },
    ],
    fixed: [],
    pa: FRAME_4K + 0x567,
    cr4: 0,
    dataInRam: true,
  },
  {
    mode: "long",
    page: "2 MiB",
    va: VALONG,
    cr3: T0,
    levels: [
      { name: "PML4E", at: T0 + 257 * 8, target: T1, ps: false },
      { name: "PDPTE", at: T1 + 2 * 8, target: T2, ps: false },
      { name: "PDE", at: T2 + 3 * 8, target: FRAME_2M, ps: true },
    ],
    fixed: [],
    pa: FRAME_2M + (VALONG % 2 ** 21),
    cr4: 0,
    dataInRam: true,
  },
  {
    mode: "long",
    page: "1 GiB",
    va: VALONG,
    cr3: T0,
    levels: [
      { name: "PML4E", at: T0 + 257 * 8, target: T1, ps: false },
      { name: "PDPTE", at: T1 + 2 * 8, target: FRAME_1G, ps: true },
    ],
    fixed: [],
    pa: FRAME_1G + (VALONG % 2 ** 30),
    cr4: 0,
    dataInRam: false,
  },
];

/** Level index (0 = root) at which a right is removed, or -1 for "not removed". */
interface Rights {
  us: number;
  rw: number;
  xd: number;
}

interface Controls {
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
}

interface Access {
  cpl: 0 | 3;
  implicit: boolean;
  kind: AccessKind;
}

const ACCESSES: Access[] = [];
for (const cpl of [0, 3] as const) {
  for (const kind of ["read", "write", "fetch"] as const)
    ACCESSES.push({ cpl, implicit: false, kind });
  // Implicit accesses (GDT, IDT, TSS...) are supervisor-mode data accesses at any CPL.
  for (const kind of ["read", "write"] as const) ACCESSES.push({ cpl, implicit: true, kind });
}

const CONTROLS: Controls[] = [];
for (let bits = 0; bits < 32; bits++) {
  CONTROLS.push({
    wp: (bits & 1) !== 0,
    smep: (bits & 2) !== 0,
    smap: (bits & 4) !== 0,
    ac: (bits & 8) !== 0,
    nxe: (bits & 16) !== 0,
  });
}

/**
 * The SDM model: the page-fault error code the access must raise, or null when it is allowed.
 *
 * - 4.3-4.5: with EFER.NXE=0 bit 63 of an 8-byte entry is reserved (RSVD=1, P=1); reserved bits
 *   are found during the walk, before any rights check.
 * - 4.6.1: U/S and R/W combine over every level (a right removed at any level is removed);
 *   XD combines the same way and only counts with NXE=1 (never in 32-bit paging).
 *   User-mode access (CPL=3, explicit): only user-mode addresses; writes need R/W=1 whatever
 *   CR0.WP; fetches need XD=0. Supervisor-mode access (CPL<3, or any implicit access): reads of
 *   user-mode addresses are blocked by SMAP unless RFLAGS.AC=1 and the access is explicit;
 *   writes as reads, plus R/W=1 needed when CR0.WP=1; fetches from user-mode addresses are
 *   blocked by SMEP (SMAP and AC do not matter), and from XD pages.
 * - 4.7: P=1 for a protection or reserved-bit fault; W for a write; U for a user-mode access
 *   (implicit accesses are supervisor-mode, so U=0 even at CPL 3); I for a fetch iff
 *   CR4.SMEP=1 or (CR4.PAE=1 and EFER.NXE=1).
 */
function expectedErrorCode(
  mode: Mode,
  rights: Rights,
  ctl: Controls,
  access: Access,
): number | null {
  const user = access.cpl === 3 && !access.implicit;
  const write = access.kind === "write";
  const fetch = access.kind === "fetch";
  const pae = mode !== "32bit";
  const accessBits =
    (write ? EC_W : 0) | (user ? EC_U : 0) | (fetch && (ctl.smep || (pae && ctl.nxe)) ? EC_I : 0);
  if (pae && rights.xd >= 0 && !ctl.nxe) return EC_P | EC_RSVD | accessBits;
  const userAddress = rights.us < 0;
  const writable = rights.rw < 0;
  const executeDisable = pae && ctl.nxe && rights.xd >= 0;
  let allowed: boolean;
  if (user) {
    allowed = userAddress && (write ? writable : fetch ? !executeDisable : true);
  } else if (fetch) {
    allowed = !(userAddress && ctl.smep) && !executeDisable;
  } else {
    const smapBlocks = userAddress && ctl.smap && (access.implicit || !ctl.ac);
    allowed = !smapBlocks && (!write || writable || !ctl.wp);
  }
  return allowed ? null : EC_P | accessBits;
}

function entryValues(geometry: Geometry, rights: Rights): Array<{ low: number; high: number }> {
  return geometry.levels.map((level, i) => ({
    low:
      (level.target % 2 ** 32) +
      (P | (rights.rw === i ? 0 : RW) | (rights.us === i ? 0 : US) | (level.ps ? PS : 0)),
    high: Math.floor(level.target / 2 ** 32) + (rights.xd === i ? XD_HIGH : 0),
  }));
}

function rightsConfigurations(geometry: Geometry): Rights[] {
  const where = [-1, ...geometry.levels.map((_, i) => i)];
  const xdWhere = geometry.mode === "32bit" ? [-1] : where;
  const out: Rights[] = [];
  for (const us of where)
    for (const rw of where) for (const xd of xdWhere) out.push({ us, rw, xd });
  return out;
}

function applyControls(cpu: Cpu, ctl: Controls): void {
  cpu.setCr0(ctl.wp ? cpu.cr0 | CR0_WP : cpu.cr0 & ~CR0_WP);
  let cr4 = cpu.cr4 & ~(CR4_SMEP | CR4_SMAP);
  if (ctl.smep) cr4 |= CR4_SMEP;
  if (ctl.smap) cr4 |= CR4_SMAP;
  cpu.setCr4(cr4);
  cpu.setEfer(ctl.nxe ? cpu.efer | EFER_NXE : cpu.efer & ~EFER_NXE);
  cpu.setAc(ctl.ac);
}

/** The outcome of one probe: the physical address or the #PF error code (CR2 checked). */
function probe(
  cpu: Cpu,
  va: number,
  access: Access,
): { pa: number } | { errorCode: number } | { errorCode: number; cr2: number } {
  try {
    return { pa: cpu.probe(va, access.kind, { cpl: access.cpl, implicit: access.implicit }) };
  } catch (error) {
    if (!(error instanceof PageFaultError)) throw error;
    // A wrong CR2 shows up as an extra key, so the case mismatches.
    if (error.cr2 !== va || cpu.cr2 !== va) return { errorCode: error.errorCode, cr2: error.cr2 };
    return { errorCode: error.errorCode };
  }
}

/** Explicit data access through the CPU's Memory interface after a permissive TLB fill. */
function memoryAccess(
  cpu: Cpu,
  geometry: Geometry,
  ctl: Controls,
  access: Access,
): { ok: true } | { errorCode: number } {
  const smapOff = cpu.cr4 & ~CR4_SMAP;
  cpu.setCr4(smapOff);
  cpu.setAc(true);
  cpu.setCpl(0);
  cpu.invlpg(geometry.va);
  for (const kind of ["write", "read"] as const) {
    if ("pa" in probe(cpu, geometry.va, { cpl: 0, implicit: false, kind })) break;
  }
  cpu.setCr4(ctl.smap ? smapOff | CR4_SMAP : smapOff);
  cpu.setAc(ctl.ac);
  cpu.setCpl(access.cpl);
  const marker = 0x5a000000 + (geometry.va % 0x1000000);
  try {
    if (access.kind === "read") cpu.read32(geometry.va);
    else {
      cpu.write32(geometry.va, marker);
      if (cpu.memory.read32(geometry.pa) !== marker) return { errorCode: -1 };
    }
    return { ok: true };
  } catch (error) {
    if (!(error instanceof PageFaultError)) throw error;
    return { errorCode: error.errorCode };
  } finally {
    cpu.setCpl(0);
  }
}

function describeCase(g: Geometry, r: Rights, c: Controls, a: Access): string {
  const lvl = (i: number) => (i < 0 ? "-" : g.levels[i]!.name);
  return (
    `${g.mode} ${g.page}: U/S=0 at ${lvl(r.us)}, R/W=0 at ${lvl(r.rw)}, XD=1 at ${lvl(r.xd)}; ` +
    `WP=${+c.wp} SMEP=${+c.smep} SMAP=${+c.smap} AC=${+c.ac} NXE=${+c.nxe}; ` +
    `CPL ${a.cpl} ${a.implicit ? "implicit " : ""}${a.kind}`
  );
}

function runMatrix(geometry: Geometry): { cases: number; mismatches: string[] } {
  const machine = new Machine({ ramBytes: 64 * 2 ** 20, maxPhysAddr: 36 });
  const cpu = machine.cpu;
  const mem = machine.memory;
  for (const entry of geometry.fixed) mem.write64(entry.at, entry.low, 0);
  const write = (at: number, value: { low: number; high: number }) => {
    if (geometry.mode === "32bit") mem.write32(at, value.low);
    else mem.write64(at, value.low >>> 0, value.high >>> 0);
  };
  // Back the data page, so TLB entries for it take the hit path of the Memory interface.
  if (geometry.dataInRam) mem.write32(geometry.pa - (geometry.pa % 4096), 0);
  cpu.setCr4(geometry.cr4);
  cpu.enablePaging(geometry.mode, geometry.cr3);
  const mismatches: string[] = [];
  let cases = 0;
  const leaf = geometry.levels.length - 1;
  for (const rights of rightsConfigurations(geometry)) {
    const values = entryValues(geometry, rights);
    for (const ctl of CONTROLS) {
      applyControls(cpu, ctl);
      for (const access of ACCESSES) {
        cases++;
        const want = expectedErrorCode(geometry.mode, rights, ctl, access);
        const wanted = want === null ? { pa: geometry.pa } : { errorCode: want };
        // Cold: fresh entries (A=D=0) and no TLB entry for the page (INVLPG drops it, global or
        // not, whole large page).
        geometry.levels.forEach((level, i) => write(level.at, values[i]!));
        cpu.invlpg(geometry.va);
        const cold = probe(cpu, geometry.va, access);
        if (JSON.stringify(cold) !== JSON.stringify(wanted)) {
          mismatches.push(
            `${describeCase(geometry, rights, ctl, access)}: walk gave ${JSON.stringify(cold)}, SDM says ${JSON.stringify(wanted)}`,
          );
          continue;
        }
        // SDM 4.8: a successful access sets A in every entry it used and D in the leaf on a
        // write; a faulting one modifies nothing. Nothing but A and D is ever rewritten.
        geometry.levels.forEach((level, i) => {
          const before = values[i]!;
          let low = before.low;
          if (want === null) low |= A | (i === leaf && access.kind === "write" ? D : 0);
          const gotLow = mem.read32(level.at) >>> 0;
          const gotHigh = geometry.mode === "32bit" ? 0 : mem.read32(level.at + 4) >>> 0;
          if (gotLow !== low >>> 0 || gotHigh !== before.high >>> 0) {
            mismatches.push(
              `${describeCase(geometry, rights, ctl, access)}: ${level.name} became ` +
                `${gotHigh.toString(16)}:${gotLow.toString(16)}, expected ` +
                `${(before.high >>> 0).toString(16)}:${(low >>> 0).toString(16)}`,
            );
          }
        });
        for (const entry of geometry.fixed) {
          if (mem.read32(entry.at) !== entry.low) mismatches.push(`PDPTE at ${entry.at} changed`);
        }
        // Warm: prime the TLB with an access that translates (a supervisor read, else a user
        // read), then repeat: the cached rights are the same bits, so the outcome must be too.
        if (!("pa" in probe(cpu, geometry.va, { cpl: 0, implicit: false, kind: "read" }))) {
          probe(cpu, geometry.va, { cpl: 3, implicit: false, kind: "read" });
        }
        const warm = probe(cpu, geometry.va, access);
        if (JSON.stringify(warm) !== JSON.stringify(wanted)) {
          mismatches.push(
            `${describeCase(geometry, rights, ctl, access)}: through the TLB gave ${JSON.stringify(warm)}, SDM says ${JSON.stringify(wanted)}`,
          );
        }
        // Memory path (cpu.read32 / write32 at the current CPL, explicit data accesses): fill
        // the TLB in the most permissive context (CPL 0, SMAP off, AC=1), then switch to the
        // case's CPL, SMAP and AC (none of which flushes) and access: no right may leak.
        if (geometry.dataInRam && !access.implicit && access.kind !== "fetch") {
          const wantedData = want === null ? { ok: true } : { errorCode: want };
          const gotData = memoryAccess(cpu, geometry, ctl, access);
          if (JSON.stringify(gotData) !== JSON.stringify(wantedData)) {
            mismatches.push(
              `${describeCase(geometry, rights, ctl, access)}: cpu.${access.kind}32 after a CPL 0 fill gave ${JSON.stringify(gotData)}, SDM says ${JSON.stringify(wantedData)}`,
            );
          }
        }
      }
    }
  }
  return { cases, mismatches };
}

describe("the SDM model itself (hand-checked spot values)", () => {
  const none: Rights = { us: -1, rw: -1, xd: -1 };
  const off: Controls = { wp: false, smep: false, smap: false, ac: false, nxe: false };
  it("matches a few outcomes worked out by hand", () => {
    // CPL 3 read of a supervisor page: P|U.
    expect(
      expectedErrorCode("long", { ...none, us: 1 }, off, { cpl: 3, implicit: false, kind: "read" }),
    ).toBe(5);
    // Supervisor write to a read-only page: allowed with WP=0, P|W with WP=1.
    const ro: Rights = { ...none, rw: 0 };
    expect(
      expectedErrorCode("pae", ro, off, { cpl: 0, implicit: false, kind: "write" }),
    ).toBeNull();
    expect(
      expectedErrorCode(
        "pae",
        ro,
        { ...off, wp: true },
        { cpl: 0, implicit: false, kind: "write" },
      ),
    ).toBe(3);
    // SMEP: supervisor fetch from a user page, P|I (I because SMEP=1), even in 32-bit paging.
    expect(
      expectedErrorCode(
        "32bit",
        none,
        { ...off, smep: true },
        { cpl: 0, implicit: false, kind: "fetch" },
      ),
    ).toBe(0x11);
    // 32-bit paging never reports I without SMEP, NXE or not: CPL 3 fetch of a supervisor page.
    expect(
      expectedErrorCode(
        "32bit",
        { ...none, us: 0 },
        { ...off, nxe: true },
        { cpl: 3, implicit: false, kind: "fetch" },
      ),
    ).toBe(5);
    // XD with NXE=0 is a reserved bit: P|RSVD, plus W|U for a user write.
    expect(
      expectedErrorCode("long", { ...none, xd: 2 }, off, {
        cpl: 3,
        implicit: false,
        kind: "write",
      }),
    ).toBe(0xf);
    // SMAP with AC=1: explicit supervisor reads allowed, implicit ones not (and U=0 at CPL 3).
    const smapAc = { ...off, smap: true, ac: true };
    expect(
      expectedErrorCode("long", none, smapAc, { cpl: 0, implicit: false, kind: "read" }),
    ).toBeNull();
    expect(expectedErrorCode("long", none, smapAc, { cpl: 3, implicit: true, kind: "write" })).toBe(
      3,
    );
    // XD with NXE=1 stops a CPL 3 fetch: P|U|I.
    expect(
      expectedErrorCode(
        "pae",
        { ...none, xd: 1 },
        { ...off, nxe: true },
        { cpl: 3, implicit: false, kind: "fetch" },
      ),
    ).toBe(0x15);
  });
});

describe("permission matrix: CPL x implicit x read/write/fetch x WP x SMEP x SMAP x AC x NXE x U/S, R/W, XD removed per level", () => {
  let total = 0;
  for (const geometry of GEOMETRIES) {
    it(`${geometry.mode} paging, ${geometry.page} pages: ${rightsConfigurations(geometry).length} rights layouts x ${CONTROLS.length} control settings x ${ACCESSES.length} accesses`, () => {
      const { cases, mismatches } = runMatrix(geometry);
      total += cases;
      expect(cases).toBe(rightsConfigurations(geometry).length * CONTROLS.length * ACCESSES.length);
      expect(mismatches.slice(0, 25), `${mismatches.length} of ${cases} cases differ`).toEqual([]);
    });
  }
  it("covered every geometry", () => {
    // 32-bit: (9 + 4) layouts, PAE: (27 + 8), 4-level: (125 + 64 + 27); each x 32 x 10.
    expect(total).toBe((9 + 4 + 27 + 8 + 125 + 64 + 27) * 32 * 10);
  });
});

describe("linear addresses the mode cannot hold", () => {
  it("raise #GP, not #PF, and leave CR2 alone", () => {
    const machine = new Machine({ ramBytes: 64 * 2 ** 20, maxPhysAddr: 36 });
    const cpu = machine.cpu;
    cpu.enablePaging("long", T0);
    expect(() => cpu.probe(2 ** 48, "read")).toThrow(GeneralProtectionError);
    expect(() => cpu.probe(-4096, "write")).toThrow(GeneralProtectionError);
    expect(cpu.cr2).toBe(0);
    // A canonical, unmapped address is a not-present #PF instead.
    expect(() => cpu.probe(2 ** 47, "read")).toThrow(PageFaultError);
    expect(cpu.cr2).toBe(2 ** 47);
  });
});
