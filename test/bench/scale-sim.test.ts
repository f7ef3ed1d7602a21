import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../bench/scale/run-cli.js";
import { SynthHubServer } from "../../bench/scale/server.js";
import { filePieces, type PlannedRepo, planRepo, scaleShape } from "../../bench/scale/synth-repo.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { openLocation } from "../../src/io/location.js";

/**
 * `npm run bench:scale`'s path at CI size: the synthesising Hub emulation serves a 70B-proportioned
 * BF16 model and a DeepSeek-V3-like FP8 model (MLA, routed + shared experts, 128×128 block scales),
 * two layers each, and the real CLI fingerprints them as a child process, as the benchmark does.
 */
const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BUILT = fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"));
if (!BUILT) console.warn("[pedigree tests] dist/ not built: the bench:scale CLI runs are skipped");

let server: SynthHubServer;
let llama: PlannedRepo;
let deepseek: PlannedRepo;

beforeAll(async () => {
  llama = planRepo("scale/tiny-70b", scaleShape("tiny-70b"));
  deepseek = planRepo("scale/tiny-deepseek", scaleShape("tiny-deepseek"));
  server = await SynthHubServer.start([llama, deepseek]);
});

afterAll(async () => {
  await server?.close();
});

const concat = (parts: Iterable<Uint8Array>) => Buffer.concat([...parts]);

describe("synthesised Hub repositories", () => {
  it("plans sharded repositories with an index, config and FP8 block scales", () => {
    const shards = [...deepseek.files.values()].filter((f) => f.lfs);
    expect(shards).toHaveLength(3);
    expect(deepseek.files.has("model.safetensors.index.json")).toBe(true);
    const config = JSON.parse(new TextDecoder().decode(deepseek.files.get("config.json")?.bytes));
    expect(config.model_type).toBe("deepseek_v3");
    expect(config.quantization_config.weight_block_size).toEqual([128, 128]);
    const tensors = shards.flatMap((s) => s.tensors ?? []);
    const kvB = tensors.find((t) => t.name === "model.layers.1.self_attn.kv_b_proj.weight");
    const kvBScale = tensors.find((t) => t.name === "model.layers.1.self_attn.kv_b_proj.weight_scale_inv");
    expect(kvB?.dtype).toBe("F8_E4M3");
    const [rows, cols] = kvB?.shape ?? [0, 0];
    expect(kvBScale?.shape).toEqual([Math.ceil((rows as number) / 128), Math.ceil((cols as number) / 128)]);
    expect(tensors.some((t) => t.name.endsWith("mlp.shared_experts.down_proj.weight"))).toBe(true);
  });

  it("produces the same bytes for any split of a range (counter-based, nothing stored)", () => {
    const shard = [...llama.files.values()].find((f) => f.lfs);
    if (!shard) throw new Error("no shard");
    const whole = concat(filePieces(shard, 0, shard.size));
    expect(whole.byteLength).toBe(shard.size);
    const cut = 3 * (1 << 20) + 12_345;
    const split = Buffer.concat([
      concat(filePieces(shard, 0, cut)),
      concat(filePieces(shard, cut, shard.size)),
    ]);
    expect(split.equals(whole)).toBe(true);
  });

  it("answers like the Hub: resolve → CDN redirect, Range 206 with Content-Range, 416, ETag, 404 codes", async () => {
    const shard = [...llama.files.values()].find((f) => f.lfs);
    if (!shard) throw new Error("no shard");
    const resolve = `${server.endpoint}/scale/tiny-70b/resolve/main/${shard.path}`;
    const r = await fetch(resolve, { method: "HEAD", redirect: "manual" });
    expect(r.status).toBe(302);
    expect(r.headers.get("x-repo-commit")).toBe(llama.commit);
    const cdn = r.headers.get("location") ?? "";
    expect(new URL(cdn).hostname).toBe("localhost");
    const part = await fetch(cdn.replace("localhost", "127.0.0.1"), { headers: { range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 100-199/${shard.size}`);
    expect(part.headers.get("etag")).toBe(shard.etag);
    expect(Buffer.from(await part.arrayBuffer()).equals(concat(filePieces(shard, 100, 200)))).toBe(true);
    const past = await fetch(cdn.replace("localhost", "127.0.0.1"), {
      headers: { range: `bytes=${shard.size}-` },
    });
    expect(past.status).toBe(416);
    const missing = await fetch(`${server.endpoint}/scale/tiny-70b/resolve/v9/config.json`);
    expect(missing.headers.get("x-error-code")).toBe("RevisionNotFound");
  });

  it("opens through the hf:// client: every tensor, FP8 dtypes, only headers read", async () => {
    server.resetCounters();
    const saved = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = server.endpoint;
    try {
      const loc = await openLocation("hf://scale/tiny-deepseek", { allowLocal: true, cacheDir: null });
      const ckpt = await openCheckpoint(loc);
      expect(ckpt.tensors.size).toBe(deepseek.tensorCount);
      expect(ckpt.tensors.get("model.layers.1.mlp.experts.0.up_proj.weight")?.dtype).toBe("F8_E4M3");
      await ckpt.close();
    } finally {
      if (saved === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = saved;
    }
    const c = server.counter("scale/tiny-deepseek");
    expect(c.weightBytes).toBeLessThan(0.05 * deepseek.weightBytes);
  });
});

describe.skipIf(!BUILT)(
  "bench:scale path: the CLI fingerprints hf:// repositories from the simulator",
  () => {
    const env = () => {
      const e: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: server.endpoint, PEDIGREE_CACHE: "off" };
      delete e.HF_TOKEN;
      return e;
    };
    for (const name of ["tiny-70b", "tiny-deepseek"] as const) {
      it(`${name}: completes, reads every weight byte at least once and within bounds, stays small`, async () => {
        const repo = name === "tiny-70b" ? llama : deepseek;
        const spec = `hf://${repo.repo}`;
        server.resetCounters();
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-scale-")), "m.pfp");
        try {
          const run = await runCli(
            ["fingerprint", spec, "--allow-local", "--json", "--quiet", "-o", out],
            env(),
          );
          expect(run.code, run.stderr).toBe(0);
          const data = JSON.parse(run.stdout).data as { bytesRead: number; bytes: number; layers: number };
          const c = server.counter(repo.repo);
          // One pass: every weight byte is read once by the scan, which also feeds the sketches
          // (FP8 matrices too; two passes read ≈ 2×). Read before the scan: the anchor rows — at a
          // 4096-token vocabulary nearly the whole embedding, at full size 0.2 % — norms and FP8 scales.
          const embed = [...repo.files.values()]
            .flatMap((f) => f.tensors ?? [])
            .find((t) => t.name === "model.embed_tokens.weight");
          expect(c.weightBytes).toBeGreaterThanOrEqual(repo.weightBytes);
          expect(c.weightBytes).toBeLessThanOrEqual(1.02 * repo.weightBytes + (embed?.bytes ?? 0));
          // The client counts exactly the body bytes the server sent.
          expect(data.bytesRead).toBe(c.weightBytes + c.otherBytes);
          expect(data.layers).toBe(2);
          expect(data.bytes).toBe(fs.statSync(out).size);
          expect(data.bytes).toBeLessThan(64e6);
          expect(run.maxRssMB).toBeGreaterThan(0);
          expect(run.maxRssMB).toBeLessThan(512);
        } finally {
          fs.rmSync(path.dirname(out), { recursive: true, force: true });
        }
      });
    }
  },
);
