import { parseSafetensorsHeader } from "./src/formats/safetensors/header.ts";
const n = Number(process.argv[2]);
const parts: string[] = [];
for (let i = 0; i < n; i++) parts.push(`"model.layers.${i}.mlp.experts.0.down_proj.weight":{"dtype":"F32","shape":[1],"data_offsets":[${i*4},${i*4+4}]}`);
const raw = new TextEncoder().encode("{" + parts.join(",") + "}");
const t0 = performance.now();
const h = parseSafetensorsHeader(raw, 8 + raw.length + n*4, "x");
console.log(n, raw.length, h.entries.length, (performance.now()-t0).toFixed(0)+"ms", (process.resourceUsage().maxRSS/1024).toFixed(0)+"MB");
