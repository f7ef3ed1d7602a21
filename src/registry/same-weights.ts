import type { ArtifactRecord, EdgeRecord, ModelRecord } from "./types.js";
import type { Finding } from "./verify.js";

/**
 * Undeclared kinship between names of the very same weights (a re-upload or a format copy recorded
 * as an artifact): the names declared to each other, directly or through other names of the same
 * weights, form groups; every group that does not hold the model's first name is reported once,
 * its earliest name as `child` and the model's first name as `parent`.
 */
export function sameWeights(
  scope: readonly ModelRecord[],
  artifacts: readonly ArtifactRecord[],
  edges: readonly EdgeRecord[],
): Finding[] {
  const out: Finding[] = [];
  for (const m of scope) {
    const aliases = artifacts.filter((a) => a.contentId === m.contentId);
    if (aliases.length === 0) continue;
    const group = new Map<string, string>([
      [m.name, m.name],
      ...aliases.map((a) => [a.name, a.name] as const),
    ]);
    const find = (x: string): string => {
      const up = group.get(x) as string;
      return up === x ? x : find(up);
    };
    for (const e of edges)
      if (group.has(e.childName) && group.has(e.parentName)) group.set(find(e.childName), find(e.parentName));
    const reported = new Set([find(m.name)]);
    for (const a of aliases) {
      const g = find(a.name);
      if (reported.has(g)) continue;
      reported.add(g);
      out.push({
        kind: "undeclared_kinship",
        child: a.name,
        parent: m.name,
        relation: "identical",
        log10P: null,
        message: `${a.name}${a.hfId ? ` (${a.hfId})` : ""} holds the same weights as ${m.name} (content id ${m.contentId.slice(0, 12)}…) but declares no lineage that connects them`,
      });
    }
  }
  return out;
}
