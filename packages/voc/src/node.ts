// The Node-only part of @ssd/voc: data sets read from folders, sharp image decoding,
// validation that reads the files. The parsers, class list, errors and types are in
// the main entry, which runs in a browser.
export { decodeImage, readImageSize } from './decode';
export type { DecodedImage, DecodeOptions } from './decode';
export { VocDataset, openVocDataset, vocSetDirectory } from './dataset';
export type { SkippedImage, VocDatasetOptions, VocSet } from './dataset';
export { openLabelTxtDataset } from './labeltxt-dataset';
export type { LabelTxtDatasetOptions } from './labeltxt-dataset';
export { validateDataset, validateLabelTxtDataset, validateVocDataset } from './validate';
export type { DatasetProblem, ValidationReport } from './validate';
