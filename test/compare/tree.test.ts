import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareFingerprints, mergeAmong } from "../../src/compare/index.js";
import { type LineageForest, lineageForest, type PairResult } from "../../src/compare/tree.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import {
  addNoise,
  duplicateLayers,
  mixModels,
  type SynthModel,
  scaleArch,
  synthModel,
  writeSynthSafetensors,
} from "../../src/synth/index.js";

/**
 * The lineage forest of a family built in code: a parent, its child and grandchild, two siblings, a
 * merge of the siblings, a depth-upscaled child and an unrelated model. Every pair is compared once.
 */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 4, vocab: 512 });
const names = ["parent", "child", "grandchild", "sib1", "sib2", "soup", "deep", "other"];
let dir = "";
let forest: LineageForest;
let taskForest: LineageForest;
const TASK_NAMES = ["parent", "sib1", "sib2", "child", "tasks"];
let fps: Fingerprint[] = [];

async function fingerprint(name: string, model: SynthModel): Promise<Fingerprint> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(model, d);
  return fingerprintSource(d, { threads: 0 });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-tree-"));
  const parent = synthModel(arch, 401);
  const child = addNoise(parent, 0.15, 402);
  const sib1 = addNoise(parent, 0.15, 404);
  const sib2 = addNoise(parent, 0.15, 405);
  const models: Record<string, SynthModel> = {
    parent,
    child,
    grandchild: addNoise(child, 0.15, 403),
    sib1,
    sib2,
    soup: mixModels([sib1, sib2], [0.6, 0.4]),
    deep: duplicateLayers(addNoise(parent, 0.05, 406), [0, 1, 2, 2, 3]),
    other: synthModel(arch, 499),
  };
  fps = [];
  for (const n of names) fps.push(await fingerprint(n, models[n]!));
  const pairs: PairResult[] = [];
  for (let a = 0; a < fps.length; a++)
    for (let b = a + 1; b < fps.length; b++)
      pairs.push({ a, b, result: compareFingerprints(fps[a]!, fps[b]!) });
  forest = lineageForest(fps, pairs, names);
  // Task arithmetic on the siblings relative to their parent, scale λ = 1.4 (a plain mix cannot fit it).
  const tasks = await fingerprint("tasks", mixModels([sib1, sib2, parent], [0.8, 0.6, -0.4]));
  const at = (n: string) => fps[names.indexOf(n)] as Fingerprint;
  const set = [at("parent"), at("sib1"), at("sib2"), at("child"), tasks];
  const setPairs: PairResult[] = [];
  for (let a = 0; a < set.length; a++)
    for (let b = a + 1; b < set.length; b++)
      setPairs.push({ a, b, result: compareFingerprints(set[a] as Fingerprint, set[b] as Fingerprint) });
  taskForest = lineageForest(set, setPairs, TASK_NAMES);
}, 240_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const edge = (parent: string, child: string) =>
  forest.edges.find((e) => names[e.parent] === parent && names[e.child] === child);

describe("pedigree tree on a family built in code", () => {
  it("has the parent and the unrelated model as roots", () => {
    expect(forest.roots.map((i) => names[i]).sort()).toEqual(["other", "parent"]);
  });
  it("attaches the grandchild to its parent, not to the grandparent", () => {
    expect(edge("child", "grandchild")).toBeDefined();
    expect(edge("parent", "grandchild")).toBeUndefined();
  });
  it("attaches siblings to their common parent, not to each other", () => {
    expect(edge("parent", "child")).toBeDefined();
    expect(edge("parent", "sib1")).toBeDefined();
    expect(edge("parent", "sib2")).toBeDefined();
    // Plain continued training carries no asymmetric evidence: the order is not claimed.
    expect(edge("parent", "sib1")!.directed).toBe(false);
  });
  it("directs a structural edge from its evidence", () => {
    const e = edge("parent", "deep")!;
    expect(e.directed).toBe(true);
    expect(e.relations).toContain("depth_upscale");
  });
  it("names the merge with one edge per parent and its weights", () => {
    expect(forest.merges).toHaveLength(1);
    const m = forest.merges[0]!;
    expect(names[m.child]).toBe("soup");
    const w = Object.fromEntries(m.parents.map((p, i) => [names[p], m.weights[i]]));
    expect(w.sib1).toBeCloseTo(0.6, 1);
    expect(w.sib2).toBeCloseTo(0.4, 1);
    expect(edge("sib1", "soup")?.relations).toEqual(["merge"]);
    expect(edge("sib2", "soup")?.weight).toBeCloseTo(0.4, 1);
    expect(m.residual).toBeLessThan(0.05);
  });
  it("finds the same merge among candidate fingerprints outside a tree (mergeAmong)", () => {
    const at = (n: string) => fps[names.indexOf(n)]!;
    const m = mergeAmong(at("soup"), [at("parent"), at("sib1"), at("sib2"), at("child")]);
    expect(m?.parents.sort()).toEqual([1, 2]);
    expect(mergeAmong(at("grandchild"), [at("child"), at("parent"), at("sib1")])).toBeNull();
  });
  it("gives every model but the roots exactly one parent, the merge two", () => {
    expect(forest.edges).toHaveLength(names.length - 2 + 1);
  });
});

describe("task-vector merges in a set", () => {
  it("names parent + 0.8·(sib1 − parent) + 0.6·(sib2 − parent) with the parent's weight 1 − λ", () => {
    expect(taskForest.merges).toHaveLength(1);
    const m = taskForest.merges[0];
    expect(m && TASK_NAMES[m.child]).toBe("tasks");
    const w = Object.fromEntries((m?.parents ?? []).map((p, i) => [TASK_NAMES[p], m?.weights[i]]));
    expect(w.sib1).toBeCloseTo(0.8, 1);
    expect(w.sib2).toBeCloseTo(0.6, 1);
    expect(w.parent).toBeCloseTo(-0.4, 1);
    expect(m?.ancestor).toBe(0);
    expect(m?.residual).toBeLessThan(0.05);
  });
  it("explains no parent by its children: the parent stays a root", () => {
    expect(taskForest.roots.map((i) => TASK_NAMES[i])).toEqual(["parent"]);
    expect(
      taskForest.edges.filter((e) => TASK_NAMES[e.child] === "child").map((e) => TASK_NAMES[e.parent]),
    ).toEqual(["parent"]);
  });
});
