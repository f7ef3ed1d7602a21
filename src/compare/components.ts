import type { Fingerprint } from "../fingerprint/types.js";
import { fisherCombineLog10 } from "../stats/index.js";
import type { EmbeddingTest } from "./align.js";
import { type AttentionAlignment, attentionLog10P } from "./attention.js";
import { round } from "./evidence.js";
import type { LayerAlignment } from "./layers.js";
import type { ComponentFinding, EvidenceOf } from "./types.js";

/**
 * Per component class (embeddings, attention, MLPs, experts): whether both models have it, whether a
 * test with a stated null ran on it, what it found, and whether B kept its tensors bit-identical.
 * "unrelated" needs every class both models have to be tested (verdict.ts): a child that kept only its
 * parent's attention and embeddings must not be cleared by MLP evidence alone.
 */

export type { ComponentFinding };
export type ComponentClass = ComponentFinding["class"];

const CLASS_OF: [ComponentClass, RegExp][] = [
  ["embeddings", /(embed|token_embd|wte|wpe|lm_head|^output\.weight)/],
  ["experts", /(experts|_exps|expert)/],
  ["attention", /(attn|attention|self_attn|\.q_proj|\.k_proj|\.v_proj|\.o_proj)/],
  ["mlp", /(mlp|ffn|feed_forward)/],
];

function classOf(name: string): ComponentClass | null {
  for (const [c, re] of CLASS_OF) if (re.test(name)) return c;
  return null;
}

/** Matrices only (norms and biases are constant or tiny): counts per class, and those B kept. */
function frozenCounts(a: Fingerprint, b: Fingerprint) {
  const digestsA = new Set(
    a.tensors.filter((t) => t.shape.length >= 2 && t.stats.std > 0).map((t) => t.sha256),
  );
  const out = new Map<ComponentClass, { total: number; same: number }>();
  for (const t of b.tensors) {
    const c = classOf(t.name);
    if (!c || t.shape.length < 2 || !(t.stats.std > 0)) continue;
    const e = out.get(c) ?? { total: 0, same: 0 };
    e.total++;
    if (digestsA.has(t.sha256)) e.same++;
    out.set(c, e);
  }
  return out;
}

export interface ComponentInputs {
  a: Fingerprint;
  b: Fingerprint;
  layers: LayerAlignment;
  mlpTested: boolean;
  attention: AttentionAlignment;
  embedding: EmbeddingTest | null;
  embeddingRowCosine: number | null;
}

const hasMoe = (fp: Fingerprint) => fp.sketches.layers.some((l) => l.kind === "moe");
const hasMlp = (fp: Fingerprint) => fp.sketches.layers.some((l) => l.mlps.length > 0);

type Row = Omit<ComponentFinding, "state" | "identicalTensors" | "tensorsB" | "kinship">;

const meanDrift = (cosines: number[]) =>
  cosines.length ? round(1 - cosines.reduce((s, c) => s + c, 0) / cosines.length) : null;

/** The tested classes and their combined log10 p (Fisher over layers, as in the evidence rows). */
function classRows(x: ComponentInputs): Row[] {
  const kin = (p: { log10P: number }) => p.log10P <= -2;
  const mlpKin = x.layers.pairs.filter(kin).flatMap((p) => p.tests.map((t) => t.test.meanCosine));
  const experts = x.layers.pairs.filter((p) => x.b.sketches.layers[p.b]?.kind === "moe");
  const fisher = (ps: number[]) => (ps.length ? round(fisherCombineLog10(ps)) : null);
  const rows: Row[] = [
    {
      class: "embeddings",
      tested: x.embedding !== null,
      log10P: x.embedding ? round(x.embedding.log10P) : null,
      drift: x.embeddingRowCosine === null ? null : round(1 - x.embeddingRowCosine),
      ...(x.embedding
        ? {}
        : { note: "hidden sizes differ or fewer than 32 shared tokens: no embedding test" }),
    },
    {
      class: "attention",
      tested: x.attention.invariantRan,
      log10P: x.attention.pairs.length ? round(attentionLog10P(x.attention)) : null,
      drift: meanDrift(x.attention.pairs.filter(kin).map((p) => p.best.meanCosine)),
      ...(x.attention.invariantRan
        ? {}
        : { note: "no attention units on a side (fused or latent attention) or no shared anchor tokens" }),
    },
  ];
  if (hasMlp(x.a) && hasMlp(x.b))
    rows.push({
      class: "mlp",
      tested: x.mlpTested,
      log10P: fisher(x.layers.pairs.map((p) => p.log10P)),
      drift: meanDrift(mlpKin),
    });
  if (hasMoe(x.a) && hasMoe(x.b))
    rows.push({
      class: "experts",
      tested: x.mlpTested && experts.length > 0,
      log10P: fisher(experts.map((p) => p.log10P)),
      drift: null,
    });
  return rows;
}

export function componentFindings(x: ComponentInputs): ComponentFinding[] {
  const frozen = frozenCounts(x.a, x.b);
  return classRows(x).map((r) => {
    const f = frozen.get(r.class) ?? { total: 0, same: 0 };
    const kinship = r.log10P !== null && r.log10P <= -2;
    const state: ComponentFinding["state"] =
      f.total > 0 && f.same === f.total
        ? "frozen"
        : f.same > 0
          ? "partly frozen"
          : kinship
            ? "changed"
            : r.tested
              ? "no kinship"
              : "untested";
    return { ...r, kinship, identicalTensors: f.same, tensorsB: f.total, state };
  });
}

/** Classes both models have that no test with a stated null covered (they block "unrelated"). */
export function untestedClasses(findings: ComponentFinding[]): ComponentClass[] {
  return findings.filter((f) => !f.tested).map((f) => f.class);
}

/** The E7 evidence row: attention units matched on q/k and v/o views. */
export function attentionEvidence(x: AttentionAlignment): EvidenceOf<"E7"> {
  let agree = 0;
  let compared = 0;
  for (const p of x.pairs) {
    agree += p.best.agreements;
    compared += p.best.compared;
  }
  return {
    id: "E7",
    method: "E7 attention unit matching (q/k and v/o agreement)",
    log10P: x.pairs.length ? round(attentionLog10P(x)) : null,
    statistic: compared ? round(agree / compared) : 0,
    detail: {
      null: "per KV head dim, B's units matched to A's twice — by q rows (summed over the group) and by k rows, or by v rows and by o columns; agreements of two unrelated matchings ≤ fixed points of a random permutation: P(≥k) ≤ 1/k!, after discounting 5% convergent units; Bonferroni over circuits, feature families and candidate layers; Fisher across layers",
      layersWithUnits: x.layersWithUnits,
      perLayer: x.pairs.map((p) => ({
        b: p.b,
        a: p.a,
        circuit: p.best.circuit,
        family: p.best.family,
        agreements: p.best.agreements,
        compared: p.best.compared,
        discounted: p.best.discounted,
        log10P: round(p.log10P),
        kvHeadMap: p.kvHeadMap,
      })),
    },
  };
}
