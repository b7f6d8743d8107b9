/**
 * How many partitions each live host should own: ⌊P/H⌋, and ⌈P/H⌉ for P mod H of them. The extra
 * ones go to the hosts that already own the most (then by id), so that a change of membership
 * moves as few partitions as it can.
 */
export function quotas(partitions: number, hosts: readonly string[], held: ReadonlyMap<number, string>): Map<string, number> {
  const result = new Map<string, number>();
  if (hosts.length === 0) return result;
  const base = Math.floor(partitions / hosts.length);
  let extra = partitions % hosts.length;
  const count = new Map<string, number>(hosts.map((h) => [h, 0]));
  for (const owner of held.values()) if (count.has(owner)) count.set(owner, (count.get(owner) ?? 0) + 1);
  const ranked = [...hosts].sort((a, b) => (count.get(b) ?? 0) - (count.get(a) ?? 0) || a.localeCompare(b));
  for (const host of ranked) {
    result.set(host, base + (extra > 0 ? 1 : 0));
    if (extra > 0) extra--;
  }
  return result;
}

/** What one host should do next: release what it holds over its quota, take free partitions up to it. */
export interface AssignmentStep {
  acquire: number[];
  release: number[];
}

/**
 * One host's next step towards an even spread, decided from what it can see: the live hosts and
 * who holds each partition's lease. Partitions held by hosts that are no longer live count as
 * free only once their leases expire (they are not in `held` any more).
 */
export function planStep(me: string, partitions: number, hosts: readonly string[], held: ReadonlyMap<number, string>): AssignmentStep {
  const live = hosts.includes(me) ? hosts : [...hosts, me];
  const quota = quotas(partitions, live, held).get(me) ?? 0;
  const mine = [...held].filter(([, owner]) => owner === me).map(([p]) => p).sort((a, b) => a - b);
  if (mine.length > quota) return { acquire: [], release: mine.slice(quota) };
  const free: number[] = [];
  for (let p = 0; p < partitions && free.length < quota - mine.length; p++) if (!held.has(p)) free.push(p);
  return { acquire: free, release: [] };
}
