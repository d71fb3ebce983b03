/*
 * Replays an allocation trace (text: "a ID SIZE ALIGN", "f ID", "r OLD NEW SIZE", one per line,
 * on standard input) with the C library's malloc / free / realloc, as allockit's replay
 * harness does with a heap: each block stamped with its ID at both ends, the stamps checked
 * before a free or realloc. Prints one JSON object: ops, seconds (the replay loop only),
 * peakLiveBytes, and with --footprint the peak of mallinfo2's arena + hblkhd, sampled after
 * every operation in a separate pass (so the timed pass carries no sampling).
 *
 * cc -O2 -o replay replay.c
 * zcat trace.trc.gz | ./replay [max-ops] [--footprint]
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_ALLOC = 1, OP_FREE = 2, OP_REALLOC = 3 };

typedef struct {
  uint8_t op;
  uint32_t id;
  uint32_t next;
  uint64_t size;
  uint64_t align;
} operation;

static const uint32_t END_STAMP = 0x5a17c0deu;

static void stamp(char *p, uint32_t id, uint64_t size) {
  if (size >= 4) memcpy(p, &id, 4);
  if (size >= 8) {
    uint32_t end = END_STAMP ^ id;
    memcpy(p + size - 4, &end, 4);
  }
}

static int stamped(const char *p, uint32_t id, uint64_t size) {
  uint32_t v;
  if (size >= 4) {
    memcpy(&v, p, 4);
    if (v != id) return 0;
  }
  if (size >= 8) {
    memcpy(&v, p + size - 4, 4);
    if (v != (END_STAMP ^ id)) return 0;
  }
  return 1;
}

static uint64_t footprint(void) {
  struct mallinfo2 info = mallinfo2();
  return (uint64_t)info.arena + (uint64_t)info.hblkhd;
}

int main(int argc, char **argv) {
  long max_ops = argc > 1 ? atol(argv[1]) : 0;
  int measure_footprint = argc > 2 && strcmp(argv[2], "--footprint") == 0;
  size_t capacity = 1 << 16, count = 0;
  uint32_t max_id = 0;
  operation *ops = malloc(capacity * sizeof *ops);
  char line[256];
  while (fgets(line, sizeof line, stdin) != NULL) {
    /* Past max_ops the rest is read and dropped, so the writer never meets a closed pipe. */
    if (max_ops > 0 && (long)count >= max_ops) continue;
    operation o = {0};
    unsigned long a = 0, b = 0, c = 0;
    if (line[0] == 'a' && sscanf(line + 1, "%lu %lu %lu", &a, &b, &c) == 3) {
      o.op = OP_ALLOC, o.id = (uint32_t)a, o.size = b, o.align = c;
    } else if (line[0] == 'f' && sscanf(line + 1, "%lu", &a) == 1) {
      o.op = OP_FREE, o.id = (uint32_t)a;
    } else if (line[0] == 'r' && sscanf(line + 1, "%lu %lu %lu", &a, &b, &c) == 3) {
      o.op = OP_REALLOC, o.id = (uint32_t)a, o.next = (uint32_t)b, o.size = c;
    } else {
      continue;
    }
    if (o.id > max_id) max_id = o.id;
    if (o.next > max_id) max_id = o.next;
    if (count == capacity) ops = realloc(ops, (capacity *= 2) * sizeof *ops);
    ops[count++] = o;
  }
  char **pointers = calloc((size_t)max_id + 1, sizeof *pointers);
  uint64_t *sizes = calloc((size_t)max_id + 1, sizeof *sizes);
  uint64_t live = 0, peak_live = 0, peak_footprint = 0, base = footprint();
  long failures = 0;
  struct timespec start, stop;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (size_t i = 0; i < count; i++) {
    operation *o = &ops[i];
    if (o->op == OP_ALLOC) {
      char *p = o->align > 16 ? aligned_alloc(o->align, (o->size + o->align - 1) / o->align * o->align)
                              : malloc(o->size);
      if (p == NULL) {
        failures++;
        continue;
      }
      pointers[o->id] = p, sizes[o->id] = o->size;
      stamp(p, o->id, o->size);
      live += o->size;
    } else if (o->op == OP_FREE) {
      char *p = pointers[o->id];
      if (p == NULL) continue;
      if (!stamped(p, o->id, sizes[o->id])) {
        fprintf(stderr, "block %u was changed while live\n", o->id);
        return 2;
      }
      free(p);
      pointers[o->id] = NULL;
      live -= sizes[o->id];
    } else {
      char *p = pointers[o->id];
      if (p == NULL) continue;
      if (!stamped(p, o->id, sizes[o->id])) {
        fprintf(stderr, "block %u was changed while live\n", o->id);
        return 2;
      }
      live -= sizes[o->id];
      pointers[o->id] = NULL;
      char *q = realloc(p, o->size == 0 ? 1 : o->size);
      if (q == NULL) {
        free(p);
        failures++;
        continue;
      }
      pointers[o->next] = q, sizes[o->next] = o->size;
      stamp(q, o->next, o->size);
      live += o->size;
    }
    if (live > peak_live) peak_live = live;
    if (measure_footprint) {
      uint64_t now = footprint() - base;
      if (now > peak_footprint) peak_footprint = now;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &stop);
  double seconds = (double)(stop.tv_sec - start.tv_sec) + (double)(stop.tv_nsec - start.tv_nsec) / 1e9;
  printf("{\"ops\":%zu,\"seconds\":%.6f,\"peakLiveBytes\":%llu,\"peakFootprintBytes\":%llu,\"failures\":%ld}\n",
         count, seconds, (unsigned long long)peak_live, (unsigned long long)peak_footprint, failures);
  return 0;
}
