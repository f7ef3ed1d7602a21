export { dotRows } from "../kernels/dot-rows.js";
export { fisherCombineLog10 } from "./fisher.js";
export {
  bonferroniLog10,
  lnChoose,
  lnFactorial,
  lnGamma,
  lnToLog10,
  logAddExp,
  logSumExp,
} from "./logspace.js";
export {
  binomialLnUpperTail,
  chiSquareEvenLnUpperTail,
  fixedPointsLog10UpperBound,
  poissonLnLowerTail,
  poissonLnPmf,
  poissonLnUpperTail,
} from "./tails.js";
