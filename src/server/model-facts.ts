import type { ModelRecord } from "../registry/types.js";
import { SIZE_BANDS, type SizeBand } from "./schemas.js";
import {
  type ModelFilter,
  type ModelStatus,
  type ModelSummary,
  modelSummaries,
  type RegistrySnapshot,
} from "./views.js";

/** What the model list shows and filters on beyond the registry's columns: read from the fingerprint. */
export interface ModelFacts {
  architecture: string;
  /** Parameters: elements of every tensor the fingerprint lists. */
  params: number;
}

/**
 * Facts per content id, kept for the server's life: a content id names fixed weights, so its
 * architecture and size never change. They come from the stored fingerprint (decoded once per
 * model, on first need), since the registry's columns do not hold them.
 */
const FACTS = new WeakMap<RegistrySnapshot, Map<string, Promise<ModelFacts>>>();

export function modelFacts(snap: RegistrySnapshot, contentId: string): Promise<ModelFacts> {
  let byId = FACTS.get(snap);
  if (!byId) {
    byId = new Map();
    FACTS.set(snap, byId);
  }
  let facts = byId.get(contentId);
  if (!facts) {
    facts = snap.registry.fingerprint(contentId).then((fp) => ({
      architecture: fp.dims?.architecture ?? "unknown",
      params: fp.tensors.reduce((s, t) => s + t.shape.reduce((p, d) => p * d, 1), 0),
    }));
    // A failed read is not remembered: the next request tries again.
    facts.catch(() => byId?.delete(contentId));
    byId.set(contentId, facts);
  }
  return facts;
}

/**
 * The facts when already known, else null (and they are read in the background for the next
 * view): a model page never waits on decoding a fingerprint, which for a real model is megabytes.
 */
export function knownFacts(snap: RegistrySnapshot, contentId: string): ModelFacts | null {
  const known = SETTLED.get(contentId);
  if (known) return known;
  modelFacts(snap, contentId).then(
    (f) => SETTLED.set(contentId, f),
    () => {},
  );
  return null;
}

const SETTLED = new Map<string, ModelFacts>();

export interface ModelListQuery {
  q?: string | undefined;
  status?: ModelStatus | undefined;
  arch?: string | undefined;
  size?: SizeBand | undefined;
}

export type ListedModel = ModelSummary & ModelFacts;

/** The model list with its filters: search, lineage status, architecture, size band. */
export async function listModels(snap: RegistrySnapshot, query: ModelListQuery): Promise<ListedModel[]> {
  const { arch, size } = query;
  const filter: ModelFilter | undefined =
    arch || size
      ? async (m: ModelRecord) => {
          const f = await modelFacts(snap, m.contentId);
          if (arch && f.architecture.toLowerCase() !== arch.toLowerCase()) return false;
          if (size) {
            const [lo, hi] = SIZE_BANDS[size];
            if (f.params < lo || f.params >= hi) return false;
          }
          return true;
        }
      : undefined;
  const models = await modelSummaries(snap, query.q ?? "", query.status, filter);
  return Promise.all(models.map(async (m) => ({ ...m, ...(await modelFacts(snap, m.contentId)) })));
}

/** "1.2B", "350M": parameter counts as people say them. */
export function paramsText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}K`;
  return String(n);
}
