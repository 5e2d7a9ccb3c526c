/**
 * Golden test against torchvision 0.14 (SSDMatcher, BoxCoder(10, 10, 5, 5)), made by
 * tools/fixtures/matcher_loss_torchvision.py on random boxes over the 8732
 * SSD300_VOC anchors.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SSD300_VOC, generateAnchorsPacked } from '@ssd/anchors';
import { encodeTargets, matchAnchors } from './index';
import { expectSameArray } from '@ssd/testing';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const int32 = (name: string) => {
  const bytes = fixture(name);
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};
const float32 = (name: string) => {
  const bytes = fixture(name);
  return new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
};

interface Cases {
  numAnchors: number;
  images: { boxes: number[]; labels: number[] }[];
}
const cases = JSON.parse(fixture('torchvision_cases.json').toString()) as Cases;
const matchesSsd = int32('matches_ssd.i32');
const matchesBand = int32('matches_band.i32');
const fgTargets = float32('fg_targets.f32');
const anchors = generateAnchorsPacked(SSD300_VOC);
const P = cases.numAnchors;

describe('golden: torchvision SSDMatcher and BoxCoder', () => {
  it('uses the same 8732 anchors', () => {
    expect(anchors.length).toBe(P * 4);
    expect(matchesSsd.length).toBe(cases.images.length * P);
  });

  let fgOffset = 0;
  cases.images.forEach((image, i) => {
    const gt = new Float32Array(image.boxes);
    const G = image.labels.length;
    const torchSsd = matchesSsd.subarray(i * P, (i + 1) * P);
    const torchBand = matchesBand.subarray(i * P, (i + 1) * P);
    const positives = torchSsd.filter((m) => m >= 0).length;
    const offset = fgOffset;
    fgOffset += positives * 4;

    it(`image ${i} (${G} boxes, ${positives} positives): identical matched indices`, () => {
      expectSameArray(matchAnchors(anchors, gt), torchSsd);
      expectSameArray(matchAnchors(anchors, gt, { negativeIouThreshold: 0.4 }), torchBand);
    });

    it(`image ${i}: targets within 1e-5 relative, labels of the matched boxes`, () => {
      const { locTargets, labels } = encodeTargets(anchors, gt, image.labels);
      let k = offset;
      for (let p = 0; p < P; p++) {
        const m = torchSsd[p]!;
        const label = m >= 0 ? image.labels[m] : 0;
        if (labels[p] !== label)
          expect.fail(`anchor ${p}: label ${labels[p]}, torchvision ${label}`);
        for (let c = 0; c < 4; c++) {
          const ours = locTargets[p * 4 + c]!;
          if (m < 0) {
            if (ours !== 0) expect.fail(`anchor ${p}: background target ${ours} ≠ 0`);
            continue;
          }
          const theirs = fgTargets[k++]!;
          if (!(Math.abs(ours - theirs) <= 1e-5 * Math.max(1, Math.abs(theirs)))) {
            expect.fail(`anchor ${p} component ${c}: ${ours} vs torchvision ${theirs}`);
          }
        }
      }
      expect(k).toBe(offset + positives * 4);
    });
  });

  it('covers the tie cases: duplicate boxes, the later one wins the shared best anchor', () => {
    const dupIndex = cases.images.findIndex(
      (img) => img.boxes.slice(0, 4).join() === img.boxes.slice(4, 8).join(),
    );
    expect(dupIndex).toBeGreaterThanOrEqual(0);
    const torchSsd = matchesSsd.subarray(dupIndex * P, (dupIndex + 1) * P);
    // Box 1 (the duplicate) owns exactly one anchor, its forced best; box 0 the rest.
    expect(torchSsd.filter((m) => m === 1).length).toBe(1);
    expect(torchSsd.filter((m) => m === 0).length).toBeGreaterThan(0);
    // The box equal to anchor 5000 is matched there.
    expect(torchSsd[5000]).toBe(2);
  });
});
