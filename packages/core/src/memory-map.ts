// Placeholder: memory-map algebra (E820 type numbers, normalisation, usable ranges).
export {};
