// The main job (`npm start`): trains the small VGG16-SSD of the `shapes` preset from
// scratch on the generated shapes data set (generated once into data/shapes-voc),
// evaluates VOC07 mAP on its test split and prints the per-class AP table. The run
// folder is runs/shapes-<date-time>. Extra arguments go to `ssd-train-voc train`
// (e.g. `npm start -- --iterations 100`); see examples/train-voc/README.md.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
