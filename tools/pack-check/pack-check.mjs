#!/usr/bin/env node
// Usage: node tools/pack-check/pack-check.mjs [@ssd/name ...]   (default: every library package)
//
// For each package: build must already have run. Packs it (and the @ssd packages it
// depends on) with `npm pack`, installs the tarballs plus the pinned tfjs peers into a
// fresh temporary project, then checks that `import` (ESM) and `require` (CJS) both load
// it and that TypeScript resolves its types under node16 (ESM and CJS) and bundler
// resolution. Exits non-zero on the first failure.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

const packages = new Map();
for (const dir of readdirSync(join(root, 'packages'))) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  if (!manifest.private)
    packages.set(manifest.name, { dir: join(root, 'packages', dir), manifest });
}
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : [...packages.keys()];

function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  const { manifest } = packages.get(name);
  for (const dep of Object.keys({ ...manifest.dependencies })) {
    if (packages.has(dep)) closure(dep, seen);
  }
  return seen;
}

const tsc = join(root, 'node_modules/typescript/bin/tsc');
for (const name of wanted) {
  if (!packages.has(name)) throw new Error(`pack-check: unknown package ${name}`);
  const work = mkdtempSync(join(tmpdir(), 'ssd-pack-'));
  try {
    const tarballs = [...closure(name)].map((n) => {
      const file = run('npm', ['pack', '--silent', '--pack-destination', work], packages.get(n).dir)
        .trim()
        .split('\n')
        .pop();
      return join(work, file);
    });
    const peers = Object.keys({ ...packages.get(name).manifest.peerDependencies }).map(
      (p) => `${p}@4.22.0`,
    );
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...tarballs,
        ...peers,
        '@types/node@20',
      ],
      work,
    );

    const exportsOf = `Object.keys(m).filter((k) => k !== 'default').length`;
    const esm = run(
      'node',
      ['--input-type=module', '-e', `import * as m from '${name}'; console.log(${exportsOf});`],
      work,
    );
    const cjs = run(
      'node',
      ['-e', `const m = require('${name}'); console.log(${exportsOf});`],
      work,
    );
    if (!(Number(esm) > 0 && Number(cjs) === Number(esm))) {
      throw new Error(`${name}: import gave ${esm.trim()} exports, require gave ${cjs.trim()}`);
    }

    const manifest = packages.get(name).manifest;
    const probe = `import * as m from '${name}';\ntype IsAny<T> = 0 extends 1 & T ? true : false;\nconst typed: IsAny<typeof m> = false;\nconst keys: string[] = Object.keys(m);\nvoid typed;\nexport { keys };\n`;
    writeFileSync(join(work, 'probe.mts'), probe);
    writeFileSync(
      join(work, 'probe.cts'),
      probe
        .replace(`import * as m from '${name}';`, `import m = require('${name}');`)
        .replace('export { keys };', 'export = keys;'),
    );
    writeFileSync(join(work, 'probe.ts'), probe);
    const common = ['--noEmit', '--strict', '--skipLibCheck', '--types', 'node'];
    run(
      'node',
      [
        tsc,
        ...common,
        '--module',
        'node16',
        '--moduleResolution',
        'node16',
        'probe.mts',
        'probe.cts',
      ],
      work,
    );
    run(
      'node',
      [tsc, ...common, '--module', 'esnext', '--moduleResolution', 'bundler', 'probe.ts'],
      work,
    );
    console.log(
      `pack-check: ${name}@${manifest.version} ok (import, require, types under node16 + bundler; ${esm.trim()} exports)`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
