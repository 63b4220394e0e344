// Filled in by its issue; see ../../../shared/DESIGN.md.
export {};
