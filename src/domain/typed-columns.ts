/** The typed arrays that hold the domain's tables (holds, deadlines) as columns. */
export type TypedColumn = Float64Array | Int32Array | Uint8Array;

/** `to` (a larger column of the same type) with `from`'s values copied to its start. */
export function grown<T extends TypedColumn>(from: T, to: T): T {
  to.set(from);
  return to;
}
