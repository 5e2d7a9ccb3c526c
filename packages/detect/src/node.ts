// The Node-only part of @ssd/detect: loading a model from a directory on disk.
// Everything else is in the main entry, which runs in a browser.
export { loadSsd } from './load-node';
