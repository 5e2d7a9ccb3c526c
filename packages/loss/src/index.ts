export { LossInputError } from './errors';
export type {
  MultiboxLoss,
  MultiboxLossOptions,
  MultiboxPredictions,
  MultiboxTargets,
} from './multibox';
export { hardNegativeMask, multiboxLoss, smoothL1 } from './multibox';
export type { TargetPacking } from './keras';
export { kerasMultiboxLoss, packPredictions, packTargets } from './keras';
