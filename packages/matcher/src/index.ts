export { MatcherInputError } from './errors';
export type { BoxCoderOptions } from './coder';
export { DECODE_EXP_CLIP, VARIANCES, decodeBoxesPacked, encodeBoxesPacked } from './coder';
export type { InvalidBoxPolicy, MatchOptions, MatchStrategy } from './match';
export { MATCH_BELOW_THRESHOLD, MATCH_BETWEEN_THRESHOLDS, matchAnchors } from './match';
export type { EncodeTargetsOptions, Targets } from './targets';
export { createTargetEncoder, encodeTargets } from './targets';
export type { BatchTargets } from './tensor';
export { decodeBoxes, encodeBoxes, encodeTargetsBatch } from './tensor';
