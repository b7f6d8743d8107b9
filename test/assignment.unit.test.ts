import { describe, expect, it } from "vitest";
import { planStep, quotas } from "../runtime/partition/assignment.js";

/** Runs every host's steps until nothing changes; returns the final holders and how many moves it took. */
function converge(partitions: number, hosts: string[], start: Map<number, string>): { held: Map<number, string>; moves: number } {
  const held = new Map([...start].filter(([, h]) => hosts.includes(h)));
  let moves = 0;
  for (let round = 0; round < 20; round++) {
    let changed = false;
    for (const host of hosts) {
      const step = planStep(host, partitions, hosts, held);
      for (const p of step.release) {
        held.delete(p);
        changed = true;
      }
      for (const p of step.acquire) {
        if (!held.has(p)) {
          held.set(p, host);
          if (start.has(p) && start.get(p) !== host) moves++;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  return { held, moves };
}

function counts(held: Map<number, string>): number[] {
  const byHost = new Map<string, number>();
  for (const h of held.values()) byHost.set(h, (byHost.get(h) ?? 0) + 1);
  return [...byHost.values()].sort((a, b) => a - b);
}

describe("partition assignment", () => {
  it("gives every host ⌊P/H⌋ or ⌈P/H⌉ partitions and every partition one owner", () => {
    for (const h of [1, 2, 3, 5, 7]) {
      const hosts = Array.from({ length: h }, (_, i) => `h${i}`);
      const { held } = converge(32, hosts, new Map());
      expect(held.size).toBe(32);
      for (const c of counts(held)) expect([Math.floor(32 / h), Math.ceil(32 / h)]).toContain(c);
    }
  });

  it("moves only what the new spread needs when a host joins or leaves", () => {
    const three = converge(32, ["a", "b", "c"], new Map()).held;
    const joined = converge(32, ["a", "b", "c", "d"], three);
    expect(counts(joined.held)).toEqual([8, 8, 8, 8]);
    // The fewest possible: d takes 8, and nothing moves between a, b and c.
    expect(joined.moves).toBe(8);
    for (const [p, h] of joined.held) if (h !== "d") expect(three.get(p)).toBe(h);
    const left = converge(32, ["a", "b", "c"], joined.held);
    expect(counts(left.held)).toEqual([10, 11, 11]);
    // Only d's 8 partitions changed hands.
    const changed = [...left.held].filter(([p, h]) => joined.held.get(p) !== h).length;
    expect(changed).toBe(8);
  });

  it("hands the extra partitions to the hosts that already hold the most", () => {
    const held = new Map<number, string>([
      [0, "b"],
      [1, "b"],
      [2, "a"],
    ]);
    expect(quotas(5, ["a", "b"], held)).toEqual(new Map([["b", 3], ["a", 2]]));
  });
});
