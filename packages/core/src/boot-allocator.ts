// Placeholder: the bump boot allocator.
export {};
