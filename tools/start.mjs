// The main job (`npm start`): builds the app, then trains the small VGG16-SSD of the
// `shapes` preset from scratch on the generated shapes data set (generated once into
// data/shapes-voc), evaluates VOC07 mAP on its test split and prints the per-class AP
// table. The run folder is runs/shapes-<date-time>. Extra arguments go to
// `ssd-train-voc train` (e.g. `npm start -- --iterations 100`); see
// examples/train-voc/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// First the app and the packages it uses, JavaScript only: the declaration files,
// which take most of a build, are not needed to run it (see tsup.base.ts).
const nx = createRequire(import.meta.url).resolve('nx/bin/nx.js');
const build = spawnSync(
  process.execPath,
  [nx, 'run', '@ssd/train-voc:build', '--output-style=static'],
  { stdio: 'inherit', env: { ...process.env, SSD_SKIP_DTS: '1' } },
);
if (build.status !== 0) process.exit(build.status ?? 1);

const cli = fileURLToPath(new URL('../examples/train-voc/dist/cli.js', import.meta.url));
const child = spawn(process.execPath, [cli, 'train', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
// Ctrl-C reaches the child through the terminal's process group; the child saves a
// checkpoint and exits, and so do we.
process.on('SIGINT', () => undefined);
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
