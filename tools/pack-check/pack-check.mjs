#!/usr/bin/env node
// Usage: node tools/pack-check/pack-check.mjs [@ssd/name ...]   (default: every library package)
//
// For each package: build must already have run. Packs it (and the @ssd packages it
// depends on) with `npm pack`, installs the tarballs plus the pinned tfjs peers into a
// fresh temporary project, then checks that `import` (ESM) and `require` (CJS) both load
// each of its entries (the main one and subpaths such as `./node`), that TypeScript
// resolves their types under node16 (ESM and CJS) and bundler resolution, and that the
// main entry bundles for a browser (esbuild, platform browser, tfjs external) without
// pulling in a Node built-in or sharp, and, for entries that load a shipped file at run
// time (RUNTIME_CHECKS: @ssd/backend's wasm pthread worker), that they run from the
// install under ESM and CommonJS. Each tarball must hold a LICENSE (copied from the
// repository root by the package's `prepack` script), and every relative link of its README
// must point to a file inside the tarball (npmjs.com resolves them against it). Exits
// non-zero on the first failure. It also lists the package.json fields that wait for the
// project's public repository URL (`repository`, `homepage`, `bugs`), without failing.
import { builtinModules } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { brokenReadmeLinks } from './src/readme-links.mjs';

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

// No public repository URL exists yet, so these stay out of the manifests until one does.
const urlFields = ['repository', 'homepage', 'bugs'];
const missingFields = new Map(); // 'repository, homepage' → ['@ssd/a', …]
for (const name of wanted) {
  const manifest = packages.get(name)?.manifest ?? {};
  const missing = urlFields.filter((field) => !(field in manifest)).join(', ');
  if (missing) missingFields.set(missing, [...(missingFields.get(missing) ?? []), name]);
}
for (const [fields, names] of missingFields) {
  console.log(
    `pack-check: note: no ${fields} in ${names.join(', ')} (they wait for the public repository URL)`,
  );
}

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

/**
 * Per package, code run in the consumer project under ESM and CommonJS that must print
 * `expect`: for entries that load a shipped file at run time (not an import a bundler
 * would see), e.g. @ssd/backend's wasm pthread worker script.
 */
const backendThreads = (load) => `${load}
  await enableWasmThreads(2);
  const selection = await selectBackend({ prefer: 'wasm' });
  const y = tf.conv2d(tf.ones([1, 8, 8, 4]), tf.ones([3, 3, 4, 4]), 1, 'same');
  console.log(selection.threads, (await y.data())[36]); // an inner pixel: 3·3·4 ones`;
const RUNTIME_CHECKS = {
  '@ssd/backend': {
    esm: {
      what: 'enableWasmThreads(2) + a conv',
      expect: '2 36',
      code: backendThreads(`import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ssd/backend';
import { enableWasmThreads } from '@ssd/backend/node';`),
    },
    cjs: {
      what: 'enableWasmThreads(2) + a conv',
      expect: '2 36',
      code: `(async () => {${backendThreads(`const tf = require('@tensorflow/tfjs-core');
const { selectBackend } = require('@ssd/backend');
const { enableWasmThreads } = require('@ssd/backend/node');`)}
})().catch((e) => { console.error(e); process.exit(1); });`,
    },
  },
};

/** Modules a browser does not have: Node built-ins (bare or `node:`) and sharp (native). */
const builtins = new Set(builtinModules.filter((m) => !m.startsWith('_')));
function nodeOnly(specifier) {
  if (specifier.startsWith('node:')) return true;
  if (specifier === 'sharp' || specifier.startsWith('sharp/')) return true;
  return builtins.has(specifier) || builtins.has(specifier.split('/')[0]);
}

/**
 * Bundles `specifier` (resolved from `cwd`) as a browser app importing it would, and
 * returns every Node-only module it reaches with the file that imports it.
 */
async function nodeOnlyImports(specifier, cwd) {
  const found = [];
  await build({
    stdin: { contents: `export * from '${specifier}';`, resolveDir: cwd, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    external: ['@tensorflow/*'],
    plugins: [
      {
        name: 'node-only',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (!nodeOnly(args.path)) return undefined;
            found.push({ module: args.path, importer: relative(cwd, args.importer) });
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return found;
}
/** LICENSE in the tarball, and every relative link of its README resolving inside it. */
function checkTarballFiles(name, files) {
  if (!files.includes('LICENSE')) {
    throw new Error(
      `${name}: the tarball has no LICENSE; its package.json needs ` +
        `"prepack": "node ../../tools/copy-license.mjs" (copies the root LICENSE)`,
    );
  }
  const readme = files.find((f) => /^readme(\.md)?$/i.test(f));
  if (readme === undefined) throw new Error(`${name}: the tarball has no README`);
  const broken = brokenReadmeLinks(
    readFileSync(join(packages.get(name).dir, readme), 'utf8'),
    files,
  );
  if (broken.length > 0) {
    const list = broken.map((b) => `${b.link} (${b.reason})`);
    throw new Error(
      `${name}: ${readme} links files that are not in the tarball, dead on npmjs.com: ${list.join(', ')}. ` +
        `Name the file without a relative link, or add it to "files".`,
    );
  }
}

for (const name of wanted) {
  if (!packages.has(name)) throw new Error(`pack-check: unknown package ${name}`);
  const work = mkdtempSync(join(tmpdir(), 'ssd-pack-'));
  try {
    const tarballs = [...closure(name)].map((n) => {
      // `--json` lists the packed files; `--silent` keeps the prepack banner quiet.
      const [packed] = JSON.parse(
        run('npm', ['pack', '--json', '--silent', '--pack-destination', work], packages.get(n).dir),
      );
      if (n === name)
        checkTarballFiles(
          name,
          packed.files.map((f) => f.path),
        );
      return join(work, packed.filename);
    });
    // Each peer at the version the package is developed against (tfjs at 4.22.0).
    const { peerDependencies, devDependencies } = packages.get(name).manifest;
    const peers = Object.keys({ ...peerDependencies }).map(
      (p) => `${p}@${devDependencies?.[p] ?? '4.22.0'}`,
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

    const manifest = packages.get(name).manifest;
    // `name` itself and every subpath export (`./node`), not `./package.json`.
    const entries = Object.keys(manifest.exports ?? { '.': null })
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? name : `${name}${key.slice(1)}`));
    const exportsOf = `Object.keys(m).filter((k) => k !== 'default').length`;
    const counts = [];
    for (const [i, entry] of entries.entries()) {
      const esm = run(
        'node',
        ['--input-type=module', '-e', `import * as m from '${entry}'; console.log(${exportsOf});`],
        work,
      );
      const cjs = run(
        'node',
        ['-e', `const m = require('${entry}'); console.log(${exportsOf});`],
        work,
      );
      if (!(Number(esm) > 0 && Number(cjs) === Number(esm))) {
        throw new Error(`${entry}: import gave ${esm.trim()} exports, require gave ${cjs.trim()}`);
      }
      counts.push(`${entry}: ${esm.trim()}`);

      const probe = `import * as m from '${entry}';\ntype IsAny<T> = 0 extends 1 & T ? true : false;\nconst typed: IsAny<typeof m> = false;\nconst keys: string[] = Object.keys(m);\nvoid typed;\nexport { keys };\n`;
      writeFileSync(join(work, `probe${i}.mts`), probe);
      writeFileSync(
        join(work, `probe${i}.cts`),
        probe
          .replace(`import * as m from '${entry}';`, `import m = require('${entry}');`)
          .replace('export { keys };', 'export = keys;'),
      );
      writeFileSync(join(work, `probe${i}.ts`), probe);
    }
    const probes = (ext) => entries.map((_, i) => `probe${i}.${ext}`);
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
        ...probes('mts'),
        ...probes('cts'),
      ],
      work,
    );
    run(
      'node',
      [tsc, ...common, '--module', 'esnext', '--moduleResolution', 'bundler', ...probes('ts')],
      work,
    );

    // Files beside the bundle that an entry loads at run time: run them from the install.
    for (const [kind, script] of Object.entries(RUNTIME_CHECKS[name] ?? {})) {
      const out = run(
        'node',
        kind === 'esm' ? ['--input-type=module', '-e', script.code] : ['-e', script.code],
        work,
      ).trim();
      if (out !== script.expect) {
        throw new Error(
          `${name} (${kind}): ${script.what}: printed ${out}, expected ${script.expect}`,
        );
      }
      counts.push(`${script.what} (${kind}) ok`);
    }

    const nodeOnlyFound = await nodeOnlyImports(name, work);
    if (nodeOnlyFound.length > 0) {
      const list = nodeOnlyFound.map((f) => `'${f.module}' (imported by ${f.importer})`);
      throw new Error(
        `${name}: the main entry does not bundle for a browser; it pulls in ${list.join(', ')}. ` +
          `Move Node-only code behind the package's './node' subpath export.`,
      );
    }
    console.log(
      `pack-check: ${name}@${manifest.version} ok (LICENSE, README links, import, require, types under node16 + bundler, browser bundle of the main entry; exports ${counts.join(', ')})`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
