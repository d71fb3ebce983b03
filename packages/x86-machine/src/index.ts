export * from "./firmware/index.js";
