/** FNV-1a, 32 bit: stable across processes and versions, which partitioning must be. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The partition of an object key, or of a service invocation (keyed by its invocation id).
 * Fixed for the life of the streams: changing `partitions` would move keys.
 */
export function partitionOf(name: string, key: string, partitions: number): number {
  return fnv1a(`${name}\u0000${key}`) % partitions;
}

/** Objects partition by key; services by invocation id, which spreads them evenly. */
export function partitionOfTarget(
  target: { type: "object"; name: string; key: string } | { type: "service"; name: string },
  invocationId: string,
  partitions: number,
): number {
  return partitionOf(target.name, target.type === "object" ? target.key : invocationId, partitions);
}
