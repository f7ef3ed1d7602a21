import { PedigreeError } from "../errors.js";
import { setOwn } from "../formats/lookup.js";
import type { LayerBag, Slot } from "./place.js";
import { canonicalShape } from "./transforms.js";
import type {
  AttentionView,
  LayerView,
  MlaView,
  MlpView,
  MoeView,
  TensorRef,
  TensorTransform,
} from "./types.js";

/** Facts the assembler needs to split fused tensors and undo layouts. */
export interface AssembleContext {
  heads: number;
  kvHeads: number;
  headDim: number;
  gated: boolean;
  /** Append unpermuteRope to q and k (llama-family GGUF). */
  ropePermuted: boolean;
  /** Collects what is missing across all layers, so one error names everything. */
  missing: string[];
}

/** A slot as a TensorRef: `lead` (index0) first, then the stored layout (transpose), then `extra`. */
export function refOf(slot: Slot, extra: TensorTransform[] = [], lead: TensorTransform[] = []): TensorRef {
  const w = slot.weight;
  if (!w) {
    const b = slot.bias?.info.name ?? "?";
    throw new PedigreeError("MODEL_MISSING_TENSORS", `bias "${b}" has no matching weight`, {
      details: { missing: [b.replace(/bias$/, "weight")] },
      hint: "The checkpoint is incomplete; download it again",
    });
  }
  const matrix = w.info.shape.length - lead.length === 2;
  const transforms = [...lead, ...(w.transpose && matrix ? [{ kind: "transpose" } as const] : []), ...extra];
  const ref: TensorRef = { tensor: w.info.name, shape: canonicalShape(w.info.shape, transforms), transforms };
  if (slot.bias) {
    const bt = [...lead, ...extra];
    ref.bias = {
      tensor: slot.bias.info.name,
      shape: canonicalShape(slot.bias.info.shape, bt),
      transforms: bt,
    };
  }
  return ref;
}

function shapeError(what: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("MODEL_SHAPE_MISMATCH", what, {
    details,
    hint: "config.json (or the GGUF metadata) does not describe these tensors; check heads, kv heads and head_dim",
  });
}

/** Rows of a matrix slot after its stored-layout transforms (before any split). */
function rowsOf(slot: Slot, lead: TensorTransform[] = []): number {
  return refOf(slot, [], lead).shape[0] ?? 0;
}

type Get = (role: string) => Slot | undefined;

/** A gated or plain MLP from roles `<p>.gate|up|down|gate_up`; null when none of them is present. */
export function buildMlp(
  get: Get,
  p: string,
  where: string,
  ctx: AssembleContext,
  lead: TensorTransform[] = [],
) {
  const gate = get(`${p}.gate`);
  const up = get(`${p}.up`);
  const down = get(`${p}.down`);
  const gateUp = get(`${p}.gate_up`);
  if (!gate && !up && !down && !gateUp) return null;
  if (!down) ctx.missing.push(`${where} ${p}.down`);
  let view: MlpView | null = null;
  if (gateUp) {
    const rows = rowsOf(gateUp, lead);
    if (rows % 2 !== 0) throw shapeError(`${where} ${p}.gate_up has an odd row count ${rows}`, { rows });
    const half = rows / 2;
    if (down)
      view = {
        gate: refOf(gateUp, [{ kind: "rows", start: 0, count: half }], lead),
        up: refOf(gateUp, [{ kind: "rows", start: half, count: half }], lead),
        down: refOf(down, [], lead),
      };
  } else {
    if (!up) ctx.missing.push(`${where} ${p}.up`);
    if (ctx.gated && !gate) ctx.missing.push(`${where} ${p}.gate`);
    if (up && down)
      view = {
        gate: gate ? refOf(gate, [], lead) : null,
        up: refOf(up, [], lead),
        down: refOf(down, [], lead),
      };
  }
  return view;
}

function rope(ctx: AssembleContext, heads: number): TensorTransform[] {
  return ctx.ropePermuted ? [{ kind: "unpermuteRope", heads }] : [];
}

function splitQkv(slot: Slot, interleaved: boolean, where: string, ctx: AssembleContext) {
  const { heads, kvHeads, headDim: d } = ctx;
  const sizes = [heads * d, kvHeads * d, kvHeads * d] as const;
  const rows = rowsOf(slot);
  if (rows !== sizes[0] + sizes[1] + sizes[2])
    throw shapeError(`${where}: fused qkv has ${rows} rows, expected ${sizes.join("+")}`, { rows, sizes });
  if (!interleaved) {
    const q = refOf(slot, [{ kind: "rows", start: 0, count: sizes[0] }, ...rope(ctx, heads)]);
    const k = refOf(slot, [{ kind: "rows", start: sizes[0], count: sizes[1] }, ...rope(ctx, kvHeads)]);
    const v = refOf(slot, [{ kind: "rows", start: sizes[0] + sizes[1], count: sizes[2] }]);
    return { q, k, v };
  }
  if (heads !== kvHeads)
    throw shapeError(`${where}: interleaved qkv needs kv heads = heads`, { heads, kvHeads });
  // gpt_neox: view(heads, 3·d) per head — [h0 q, h0 k, h0 v, h1 q, …] (modeling_gpt_neox.py).
  const pick = (part: number) =>
    Array.from({ length: heads * d }, (_, i) => Math.floor(i / d) * 3 * d + part * d + (i % d));
  return {
    q: refOf(slot, [{ kind: "gatherRows", rows: pick(0) }]),
    k: refOf(slot, [{ kind: "gatherRows", rows: pick(1) }]),
    v: refOf(slot, [{ kind: "gatherRows", rows: pick(2) }]),
  };
}

function buildMla(get: Get, where: string, ctx: AssembleContext): MlaView | null {
  const kvA = get("mla.kv_a");
  const kvB = get("mla.kv_b");
  const q = get("attn.q");
  const qA = get("mla.q_a");
  const qB = get("mla.q_b");
  if (!kvA) ctx.missing.push(`${where} mla.kv_a (kv_a_proj_with_mqa)`);
  if (!kvB) ctx.missing.push(`${where} mla.kv_b (kv_b_proj)`);
  if (!q && !(qA && qB)) ctx.missing.push(`${where} mla.q_a + mla.q_b (or attn.q)`);
  if (!kvA || !kvB) return null;
  const opt = (s: Slot | undefined) => (s ? refOf(s) : null);
  return {
    qA: opt(qA),
    qB: opt(qB),
    q: opt(q),
    kvA: refOf(kvA),
    kvB: refOf(kvB),
    qANorm: opt(get("mla.q_a_norm")),
    kvANorm: opt(get("mla.kv_a_norm")),
  };
}

function buildAttention(get: Get, where: string, ctx: AssembleContext): AttentionView {
  const o = get("attn.o");
  if (!o) ctx.missing.push(`${where} attn.o`);
  const opt = (s: Slot | undefined) => (s ? refOf(s) : null);
  const base = { qNorm: opt(get("attn.q_norm")), kNorm: opt(get("attn.k_norm")) };
  const placeholder: TensorRef = { tensor: "", shape: [0, 0], transforms: [] };
  const oRef = o ? refOf(o) : placeholder;
  if (get("mla.kv_a") || get("mla.kv_b") || get("mla.q_a")) {
    return { q: null, k: null, v: null, o: oRef, mla: buildMla(get, where, ctx), ...base };
  }
  const qkv = get("attn.qkv") ?? get("attn.qkv_interleaved");
  if (qkv) return { ...splitQkv(qkv, !get("attn.qkv"), where, ctx), o: oRef, mla: null, ...base };
  const parts = { q: get("attn.q"), k: get("attn.k"), v: get("attn.v") };
  for (const [k, s] of Object.entries(parts)) if (!s) ctx.missing.push(`${where} attn.${k}`);
  return {
    q: parts.q ? refOf(parts.q, rope(ctx, ctx.heads)) : null,
    k: parts.k ? refOf(parts.k, rope(ctx, ctx.kvHeads)) : null,
    v: opt(parts.v),
    o: oRef,
    mla: null,
    ...base,
  };
}

const FUSED = ["experts.gate", "experts.up", "experts.down", "experts.gate_up"];

function buildExperts(bag: LayerBag, where: string, ctx: AssembleContext): MlpView[] {
  const fused = FUSED.map((r) => bag.roles.get(r)).filter((s): s is Slot => s !== undefined);
  if (fused.length > 0 && bag.experts.size > 0)
    throw new PedigreeError("MODEL_DUPLICATE_ROLE", `${where} has both fused and per-expert tensors`, {
      details: { layer: where },
    });
  const out: MlpView[] = [];
  if (fused.length > 0) {
    const counts = new Set(fused.map((s) => s.weight?.info.shape[0] ?? s.bias?.info.shape[0]));
    if (counts.size !== 1)
      throw shapeError(`${where}: fused expert tensors disagree on the expert count`, {});
    const n = [...counts][0] ?? 0;
    for (let e = 0; e < n; e++) {
      const view = buildMlp((r) => bag.roles.get(r), "experts", `${where} expert ${e}`, ctx, [
        { kind: "index0", index: e },
      ]);
      if (view) out.push(view);
    }
    return out;
  }
  const n = Math.max(-1, ...bag.experts.keys()) + 1;
  for (let e = 0; e < n; e++) {
    const ex = bag.experts.get(e);
    if (!ex) ctx.missing.push(`${where} expert ${e}`);
    const view = ex ? buildMlp((r) => ex.get(r), "expert", `${where} expert ${e}`, ctx) : null;
    if (view) out.push(view);
  }
  return out;
}

function buildMoe(bag: LayerBag, where: string, ctx: AssembleContext): MoeView | null {
  const router = bag.roles.get("moe.router");
  const hasExperts = bag.experts.size > 0 || FUSED.some((r) => bag.roles.has(r));
  if (!router && !hasExperts) return null;
  if (!router) ctx.missing.push(`${where} moe.router`);
  if (!hasExperts) ctx.missing.push(`${where} experts`);
  const experts = buildExperts(bag, where, ctx);
  const shared = buildMlp((r) => bag.roles.get(r), "shared", `${where} shared expert`, ctx);
  return router ? { router: refOf(router), experts, shared } : null;
}

/** One decoder layer from its bag of roles; missing parts are appended to ctx.missing. */
export function buildLayer(index: number, bag: LayerBag, ctx: AssembleContext): LayerView {
  const where = `layer ${index}`;
  const get: Get = (r) => bag.roles.get(r);
  const attention = buildAttention(get, where, ctx);
  const mlp = buildMlp(get, "mlp", where, ctx);
  const moe = buildMoe(bag, where, ctx);
  const present = [...bag.roles.keys()].some((r) => /^(?:mlp|moe|experts)\./.test(r)) || bag.experts.size > 0;
  if (!present) ctx.missing.push(`${where} mlp (gate/up/down) or moe (router + experts)`);
  const norms: Record<string, TensorRef> = {};
  const extras: Record<string, TensorRef> = {};
  for (const [role, slot] of bag.roles) {
    // Names after "norm." / "extra." may come from a mapping file: own properties only.
    if (role.startsWith("norm.")) setOwn(norms, role.slice(5), refOf(slot));
    else if (role.startsWith("extra.")) setOwn(extras, role.slice(6), refOf(slot));
  }
  const layer: LayerView = { index, attention, mlp, moe, norms };
  if (Object.keys(extras).length > 0) layer.extras = extras;
  return layer;
}
