#!/usr/bin/env node
// Usage: node ../../tools/copy-license.mjs   (each library's `prepack` script runs it)
//
// The repository's LICENSE is the one source of truth. npm puts a LICENSE file of the
// package folder into every tarball, but never the workspace root's, so before `npm pack`
// or `npm publish` this copies the root LICENSE into the package folder being packed (the
// working directory npm runs lifecycle scripts in). The copies are git-ignored.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const source = resolve(import.meta.dirname, '..', 'LICENSE');
const target = join(process.cwd(), 'LICENSE');

if (!existsSync(join(process.cwd(), 'package.json'))) {
  console.error(`copy-license: ${process.cwd()} has no package.json; run it from a package folder`);
  process.exit(1);
}
if (!existsSync(source)) {
  console.error(`copy-license: ${source} not found`);
  process.exit(1);
}
if (!existsSync(target) || !readFileSync(target).equals(readFileSync(source))) {
  copyFileSync(source, target);
}
