/**
 * Your own data, as the README's "Train on your own data" describes it: a plain
 * VOC folder (`mydata/{Annotations,JPEGImages,ImageSets/Main}`) with two classes
 * of its own, trained with `--classes auto`, then `evaluate` and `detect` on it.
 * The folder is made from generated shapes: circles become `apple`, squares
 * `pear`, every other object is removed.
 */
import { makeShapesVoc } from '@ssd/make-shapes-voc/node';
import * as tf from '@tensorflow/tfjs-core';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../src/config';
import { parseCommandLine } from '../src/flags';
import { runDetect, runEvaluate } from '../src/infer-commands';
import { runTrain } from '../src/train-command';

let dir: string;
let mydata: string;

/** One annotation with circles renamed `apple`, squares `pear`, the other objects gone. */
function twoClasses(xml: string): string {
  return xml.replace(/\s*<object>[\s\S]*?<\/object>/g, (object) => {
    const name = /<name>(\w+)<\/name>/.exec(object)?.[1];
    const renamed = name === 'circle' ? 'apple' : name === 'square' ? 'pear' : null;
    return renamed === null
      ? ''
      : object.replace(`<name>${name}</name>`, `<name>${renamed}</name>`);
  });
}

beforeAll(async () => {
  tf.env().set('IS_TEST', false); // as e2e.test.ts: the app trains on wasm
  dir = await fs.mkdtemp(path.join(tmpdir(), 'train-voc-own-data-'));
  await makeShapesVoc({ outDir: path.join(dir, 'shapes'), count: 24, seed: 7, concurrency: 2 });
  const voc = path.join(dir, 'shapes', 'VOCdevkit', 'VOCshapes');
  mydata = path.join(dir, 'mydata');
  for (const sub of ['Annotations', 'JPEGImages', path.join('ImageSets', 'Main')]) {
    await fs.mkdir(path.join(mydata, sub), { recursive: true });
  }
  for (const split of ['trainval', 'test']) {
    await fs.copyFile(
      path.join(voc, 'ImageSets', 'Main', `${split}.txt`),
      path.join(mydata, 'ImageSets', 'Main', `${split}.txt`),
    );
  }
  for (const name of await fs.readdir(path.join(voc, 'Annotations'))) {
    const xml = await fs.readFile(path.join(voc, 'Annotations', name), 'utf8');
    await fs.writeFile(path.join(mydata, 'Annotations', name), twoClasses(xml));
    const id = name.replace(/\.xml$/, '');
    await fs.copyFile(
      path.join(voc, 'JPEGImages', `${id}.jpg`),
      path.join(mydata, 'JPEGImages', `${id}.jpg`),
    );
  }
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('train on your own data', () => {
  it('trains on a plain VOC folder with --classes auto, then evaluates and detects', async () => {
    const out = path.join(dir, 'run');
    const args = [
      'train',
      ...['--data', mydata, '--classes', 'auto', '--preset', 'shapes'],
      ...['--backend', 'wasm', '--workers', '1', '--width', '0.0625', '--input-size', '96'],
      ...['--batch-size', '4', '--iterations', '6', '--draw', '0', '--out', out],
    ];
    const config = resolveTrainConfig(parseCommandLine(args).flags);
    // A VOC folder: splits by name, trainval and test by default; the recipe's
    // iteration counts follow --iterations (863, 963 of 1000 → 5, 6 of 6).
    expect(config.train).toEqual(['trainval']);
    expect(config.test).toEqual(['test']);
    expect(config.lrSteps).toEqual([5, 6]);
    const logs: string[] = [];
    const trained = await runTrain(config, {}, { log: (m) => logs.push(m) });
    expect(trained.iteration).toBe(6);
    expect(logs).toContain('Classes (--classes auto, from trainval): apple, pear');

    // The names are saved: in the run's config, its summary and the model's metadata.
    const saved = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8'));
    expect(saved.classes).toEqual(['apple', 'pear']);
    const summary = trained.summary as { perClassAP: Record<string, number> };
    expect(Object.keys(summary.perClassAP)).toEqual(['apple', 'pear']);
    const model = JSON.parse(await fs.readFile(path.join(out, 'model', 'model.json'), 'utf8'));
    expect(model.userDefinedMetadata.ssd.labels).toEqual(['apple', 'pear']);

    // evaluate: the run's data and test split, from the exported model.
    const evaluated = await runEvaluate({ model: path.join(out, 'model'), backend: 'wasm' });
    expect(Object.keys(evaluated.perClassAP as object)).toEqual(['apple', 'pear']);
    expect(evaluated.splits).toEqual(['test']);
    await fs.access(path.join(out, 'evaluation-model.json'));

    // detect: results go to <run>/detections, a second run to detections-2.
    const image = path.join(
      mydata,
      'JPEGImages',
      (await fs.readdir(path.join(mydata, 'JPEGImages')))[0]!,
    );
    const first = await runDetect({ checkpoint: out, 'score-threshold': 0.01 }, [image]);
    const second = await runDetect({ checkpoint: out, 'score-threshold': 0.01 }, [image]);
    expect(first.out).toBe(path.join(out, 'detections'));
    expect(second.out).toBe(path.join(out, 'detections-2'));
    const detections = JSON.parse(
      await fs.readFile(path.join(first.out, 'detections.json'), 'utf8'),
    ) as { detections: { label: string }[] }[];
    expect(detections).toHaveLength(1);
    for (const d of detections[0]!.detections) expect(['apple', 'pear']).toContain(d.label);
    // An explicit --out holding results is refused without --overwrite.
    await expect(runDetect({ checkpoint: out, out: first.out }, [image])).rejects.toThrow(
      /--overwrite/,
    );
    await runDetect({ checkpoint: out, out: first.out, overwrite: true }, [image]);
  });
});
