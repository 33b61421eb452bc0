// When a task's results settle it: pure, so the rule is tested on its own and the service only
// applies the outcome. Execution is deterministic, so honest results of one task are equal
// (wire.ts claimOf) and any disagreement proves that somebody lied.
//
//   no dispute   `needed` equal results (redundancy, +1 for a spot check, +1 after the consumer
//                rejected the task) decide it
//   dispute      the largest group of equal results decides it when it has at least two results
//                from at least two owners and is strictly larger than every other group: the
//                deciding run breaks a one-against-one tie, and a second lie cannot outvote two
//                owners who agree
//
// Until then the task needs one more run than it has results and runs in flight (a deciding run
// on a device and owner it has not used), unless that would pass `maxRuns`.

export type JudgedRun = {
  /** The owner of the device that ran it (checks go to other owners). */
  owner: string;
  /** Its result's claim, or null while it has not answered. */
  claim: string | null;
  /** Timed out or vanished: it will never count. */
  lost: boolean;
};

export type Judgement =
  | {
      decided: true;
      /** The claim that stands. */
      claim: string;
      /** Indexes (into the runs given) whose result is that claim. */
      agreed: number[];
      /** Indexes whose answered result is another claim: proven lies. */
      contradicted: number[];
    }
  /** Undecided: whether to ask for one more run now (false while enough are in flight). */
  | { decided: false; runAnother: boolean };

export function judgeRuns(runs: readonly JudgedRun[], needed: number): Judgement {
  const groups = new Map<string, number[]>();
  runs.forEach((r, i) => {
    if (r.claim === null || r.lost) return;
    groups.set(r.claim, [...(groups.get(r.claim) ?? []), i]);
  });
  const answered = [...groups.values()].reduce((n, g) => n + g.length, 0);
  const ranked = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  const [top, second] = ranked;
  const disputed = ranked.length > 1;
  let decided = false;
  if (top) {
    const owners = new Set(top[1].map((i) => runs[i]!.owner));
    decided = disputed ? top[1].length >= 2 && owners.size >= 2 && top[1].length > second![1].length : top[1].length >= needed;
  }
  if (decided && top) {
    const contradicted = ranked.slice(1).flatMap(([, idx]) => idx);
    return { decided: true, claim: top[0], agreed: top[1], contradicted: contradicted.sort((a, b) => a - b) };
  }
  const inFlight = runs.filter((r) => r.claim === null && !r.lost).length;
  // A dispute needs one result more than it has; otherwise `needed` in all.
  const target = disputed ? answered + 1 : needed;
  return { decided: false, runAnother: answered + inFlight < target };
}
