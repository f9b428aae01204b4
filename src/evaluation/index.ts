// Evaluation: caption a dataset split with a model and score it with the COCO metrics.
export { type EvaluateOptions, type EvaluateResult, evaluateModel } from "./evaluate.js";
