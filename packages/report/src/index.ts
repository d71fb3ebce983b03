export * from "./owners.js";
export * from "./frame-map.js";
export * from "./system.js";
export * from "./recorder.js";
export * from "./snapshot.js";
export * from "./data.js";
export * from "./render.js";
export * from "./write.js";
