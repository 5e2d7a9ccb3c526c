import { describe, expect, it } from 'vitest';
import { brokenReadmeLinks, linkTargets } from './readme-links.mjs';

const files = ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts'];

describe('linkTargets', () => {
  it('finds inline links, images, reference definitions and HTML attributes', () => {
    const md = [
      'See [the docs](docs/a.md "title") and ![plot](<img/loss plot.png>).',
      'A link whose text spans',
      'lines: [`code`\nmore](dist/index.js#L3).',
      '[ref]: ../../tools/x.py',
      '<img src="pic.png"> <a href=\'https://example.com\'>x</a>',
    ].join('\n');
    expect(linkTargets(md)).toEqual([
      'docs/a.md',
      'img/loss plot.png',
      'dist/index.js#L3',
      '../../tools/x.py',
      'pic.png',
      'https://example.com',
    ]);
  });

  it('skips fenced code blocks and inline code', () => {
    const md = [
      '```ts',
      'const a = b[0](c); // [x](../y.md)',
      '```',
      '~~~~',
      '[z](../z.md)',
      '~~~~',
      'Write `[t](../t.md)` to link.',
      '[kept](LICENSE)',
    ].join('\n');
    expect(linkTargets(md)).toEqual(['LICENSE']);
  });
});

describe('brokenReadmeLinks', () => {
  it('reports links outside the package, absolute paths and files not in the tarball', () => {
    const md = [
      '[fixture](../../tools/fixtures/matcher_loss_torchvision.py)',
      '[src](src/golden.test.ts)',
      '[root](/LICENSE)',
      '[ok](LICENSE) [ok dir](dist/) [ok anchor](#usage) [ok](./dist/index.d.ts#L1)',
      '[ok url](https://www.apache.org/licenses/LICENSE-2.0) [ok mail](mailto:a@b.c)',
    ].join('\n');
    expect(brokenReadmeLinks(md, files)).toEqual([
      {
        link: '../../tools/fixtures/matcher_loss_torchvision.py',
        reason: 'points outside the package',
      },
      { link: 'src/golden.test.ts', reason: 'not in the tarball' },
      {
        link: '/LICENSE',
        reason: 'an absolute path resolves against the registry site, not the package',
      },
    ]);
  });

  it('finds nothing to report in a README without relative links', () => {
    expect(
      brokenReadmeLinks('# Title\n\n[npm](https://npmjs.com) and [below](#below).', files),
    ).toEqual([]);
  });
});
