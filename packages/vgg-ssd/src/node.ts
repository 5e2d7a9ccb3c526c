// The Node-only part of @ssd/vgg-ssd: the file system. Everything else is in the
// main entry, which runs in a browser.
export { fileSystemHandler } from './fs-handler';
export { loadKerasVgg16Weights, loadSsdModel, saveSsdModel } from './node-io';
export { readSafetensorsFile } from './safetensors-file';
