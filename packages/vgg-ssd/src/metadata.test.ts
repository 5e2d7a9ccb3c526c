import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { SSD300_VOC } from '@ssd/anchors';
import {
  DEFAULT_PREPROCESSING,
  WeightsFileError,
  anchorConfigForModel,
  readSsdMetadata,
  type SsdMetadata,
} from './index';
import { modelInputScale, setSsdMetadata } from './metadata';
import { narrowSsd } from './test-helpers';

function tinyModel(inputScale?: number): tfl.LayersModel {
  return narrowSsd({ seed: 7, ...(inputScale === undefined ? {} : { inputScale }) });
}

/** Puts `ssd` into the model's metadata as a foreign writer would, unvalidated. */
function withRaw(model: tfl.LayersModel, ssd: unknown): tfl.LayersModel {
  model.setUserDefinedMetadata({ ssd: ssd as object });
  return model;
}

describe('SsdMetadata', () => {
  it('is completed from the model: input size, the graph’s input scale, the preprocessing', () => {
    const model = tinyModel(1 / 58);
    const anchorConfig = anchorConfigForModel(model, SSD300_VOC);
    expect(modelInputScale(model)).toBeCloseTo(1 / 58, 12);
    const saved = setSsdMetadata(model, { anchorConfig, labels: ['a', 'b'] }, 'here');
    expect(saved).toEqual({
      anchorConfig,
      labels: ['a', 'b'],
      inputSize: 64,
      preprocessing: { resize: 'bilinear-half-pixel', meanRgb: [123, 117, 104] },
      inputScale: 1 / 58,
    });
    expect(readSsdMetadata(model)).toEqual(saved);
    expect(DEFAULT_PREPROCESSING.meanRgb).toEqual([123, 117, 104]);
    const plain = tinyModel();
    expect(modelInputScale(plain)).toBe(1);
    expect(setSsdMetadata(plain, { anchorConfig }, 'here').inputScale).toBe(1);
    model.dispose();
    plain.dispose();
  });

  it('reads a file written before the new fields (anchors and labels only)', () => {
    const model = tinyModel();
    const old = { anchorConfig: anchorConfigForModel(model, SSD300_VOC), labels: ['a', 'b'] };
    expect(readSsdMetadata(withRaw(model, old))).toEqual(old);
    model.dispose();
  });

  it('refuses each field that is malformed or disagrees with the model, naming it', () => {
    const model = tinyModel(0.25);
    const good: SsdMetadata = {
      anchorConfig: anchorConfigForModel(model, SSD300_VOC),
      labels: ['a', 'b'],
      inputSize: 64,
      preprocessing: DEFAULT_PREPROCESSING,
      inputScale: 0.25,
    };
    expect(readSsdMetadata(withRaw(model, good))).toEqual(good);
    const cases: [Record<string, unknown>, string][] = [
      [{ labels: ['a'] }, 'model.json: metadata.labels: expected 2 names (classes 1..2), got 1'],
      [{ labels: [1, 2] }, 'metadata.labels: expected an array of class names'],
      [{ inputSize: 300 }, "metadata.inputSize: 300 but the model's input is 64×64"],
      [{ inputSize: 6.5 }, 'metadata.inputSize: expected a positive integer, got 6.5'],
      [{ inputScale: 1 }, "metadata.inputScale: 1 but the graph's input_scale is 0.25"],
      [{ inputScale: -1 }, 'metadata.inputScale: expected a positive number, got -1'],
      [
        { preprocessing: { resize: 'nearest', meanRgb: [1, 2, 3] } },
        'metadata.preprocessing.resize: expected \'bilinear-half-pixel\', got "nearest"',
      ],
      [
        { preprocessing: { resize: 'bilinear-half-pixel', meanRgb: [1, 2] } },
        'metadata.preprocessing.meanRgb: expected 3 finite numbers, got [1,2]',
      ],
      [{ anchorConfig: { ...good.anchorConfig, steps: [8] } }, 'metadata.anchorConfig:'],
    ];
    for (const [change, message] of cases) {
      const read = () => readSsdMetadata(withRaw(model, { ...good, ...change }));
      expect(read).toThrow(WeightsFileError);
      expect(read).toThrow(message);
    }
    // The writer checks the same, naming its destination.
    expect(() => setSsdMetadata(model, { ...good, inputScale: 2 }, 'runs/x/model')).toThrow(
      "runs/x/model: metadata.inputScale: 2 but the graph's input_scale is 0.25",
    );
    model.dispose();
  });
});
