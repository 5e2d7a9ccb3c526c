export { learningRateAt, schedulePhase, validateSchedule, ScheduleError } from './schedule';
export type { LrSchedule } from './schedule';
export {
  Adam,
  SgdMomentum,
  createOptimizer,
  paramsFromVariables,
  OptimizerStateError,
} from './optimizer';
export type { Optimizer, OptimizerKind, OptimizerState, TrainableParam } from './optimizer';
export {
  CheckpointError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint';
export type { CheckpointData, CheckpointTensor } from './checkpoint';
export { RECIPES, SHAPES_RECIPE, SSD300_RECIPE, SSD512_RECIPE, resolveTrainConfig } from './config';
export type { RunConfig, PresetName } from './config';
export { SHAPES_128_ANCHORS, basePreset, buildNetwork } from './network';
