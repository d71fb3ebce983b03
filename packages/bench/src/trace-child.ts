import "reflect-metadata";
import { measureTraceReplay, type TraceMemory } from "./tables/trace.js";

// Replays a trace on one heap and memory (see measureTraceReplay); prints JSON.
const [heap, memory, ops, runs, file] = process.argv.slice(2);
const row = await measureTraceReplay(heap!, memory as TraceMemory, Number(ops), Number(runs), file);
process.stdout.write(JSON.stringify(row));
