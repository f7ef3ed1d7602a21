import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type {
  fingerprintOutput,
  inspectOutput,
  synthOutput,
  treeOutput,
} from "../../src/cli/json-output/model.js";
import type { registryLogVerifyOutput } from "../../src/cli/json-output/registry.js";
import type {
  tokenizerAuditOutput,
  tokenizerCompareOutput,
  tokenizerEfficiencyOutput,
  trainlogCheckOutput,
} from "../../src/cli/json-output/tokenizer.js";
import type { InspectData } from "../../src/model/summary.js";
import type {
  identifyResultSchema,
  lineageGraphSchema,
  modelRecordSchema,
  showDataSchema,
  verifyResultSchema,
} from "../../src/registry/contract.js";
import type { LineageGraph } from "../../src/registry/graph.js";
import type { IdentifyResult } from "../../src/registry/identify.js";
import type { LogVerifyResult } from "../../src/registry/log-verify.js";
import type { ShowData } from "../../src/registry/show.js";
import type { ModelRecord } from "../../src/registry/types.js";
import type { VerifyResult } from "../../src/registry/verify.js";
import type { FingerprintData } from "../../src/report/fingerprint.js";
import type { SynthData } from "../../src/report/synth.js";
import type { TreeData } from "../../src/report/tree-text.js";
import type { AuditReport } from "../../src/tokenizer/audit/index.js";
import type { TokenizerComparison } from "../../src/tokenizer/compare.js";
import type { EfficiencyReport } from "../../src/tokenizer/efficiency.js";
import type { TrainLogReport } from "../../src/trainlog/types.js";

/**
 * The result types the commands return are assignable to the schemas the JSON Schemas are generated
 * from: a field added to a result type without its schema fails the typecheck here (tsc checks test/).
 */
describe("result types conform to the published schemas", () => {
  it("command outputs", () => {
    expectTypeOf<InspectData>().toExtend<z.infer<typeof inspectOutput>>();
    expectTypeOf<FingerprintData>().toExtend<z.infer<typeof fingerprintOutput>>();
    expectTypeOf<TreeData>().toExtend<z.infer<typeof treeOutput>>();
    expectTypeOf<SynthData>().toExtend<z.infer<typeof synthOutput>>();
    expectTypeOf<TokenizerComparison>().toExtend<z.infer<typeof tokenizerCompareOutput>>();
    expectTypeOf<AuditReport>().toExtend<z.infer<typeof tokenizerAuditOutput>>();
    expectTypeOf<EfficiencyReport>().toExtend<z.infer<typeof tokenizerEfficiencyOutput>>();
    expectTypeOf<TrainLogReport>().toExtend<Omit<z.infer<typeof trainlogCheckOutput>, "vocab" | "html">>();
    expectTypeOf<LogVerifyResult>().toExtend<z.infer<typeof registryLogVerifyOutput>>();
  });
  it("registry records", () => {
    expectTypeOf<ModelRecord>().toExtend<z.infer<typeof modelRecordSchema>>();
    expectTypeOf<ShowData>().toExtend<z.infer<typeof showDataSchema>>();
    expectTypeOf<LineageGraph>().toExtend<z.infer<typeof lineageGraphSchema>>();
    expectTypeOf<VerifyResult>().toExtend<z.infer<typeof verifyResultSchema>>();
    expectTypeOf<IdentifyResult>().toExtend<z.infer<typeof identifyResultSchema>>();
  });
});
