// Relative links of a packed README, checked against the files of the tarball.
//
// On npmjs.com a README's relative links resolve against the published tarball, so a
// link to `../../tools/…` (a file of the repository, not of the package) is dead there.
// `brokenReadmeLinks` lists every relative link that does not point to a file (or a
// folder holding files) inside the package.
import { posix } from 'node:path';

/** `scheme:` (https:, mailto:, data:) or protocol-relative `//host`: not a file of the package. */
const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/** `markdown` with fenced code blocks removed and inline code spans replaced by `code`. */
function withoutCode(markdown) {
  const kept = [];
  let fence = null; // the opening fence while inside a fenced block
  for (const line of markdown.split('\n')) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker) fence = marker;
    else if (fence !== null) {
      const closing = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line)?.[1];
      if (closing && closing[0] === fence[0] && closing.length >= fence.length) fence = null;
    } else kept.push(line);
  }
  return kept.join('\n').replace(/(`+)[\s\S]*?\1/g, 'code');
}

/**
 * Every link target of a Markdown document: inline links and images `[text](target)`,
 * reference definitions `[label]: target`, and HTML `href`/`src` attributes. Code (fenced
 * blocks and inline spans) is skipped, as a renderer shows it verbatim.
 */
export function linkTargets(markdown) {
  const text = withoutCode(markdown);
  const targets = [];
  const destination = String.raw`(?:<([^>\n]*)>|([^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*))`;
  const inline = new RegExp(
    String.raw`\]\(\s*${destination}(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`,
    'g',
  );
  for (const m of text.matchAll(inline)) targets.push(m[1] ?? m[2]);
  const reference = new RegExp(String.raw`^ {0,3}\[[^\]\n]+\]:[ \t]*${destination}`, 'gm');
  for (const m of text.matchAll(reference)) targets.push(m[1] ?? m[2]);
  for (const m of text.matchAll(/\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    targets.push(m[1] ?? m[2]);
  }
  return targets.filter((t) => t !== '');
}

/**
 * The relative links of `markdown` (a README at the root of a package) that do not
 * resolve to a file of `files` (the tarball's paths relative to its root, as
 * `npm pack --json` lists them) or to a folder holding one. Links to anchors (`#…`),
 * URLs with a scheme and protocol-relative URLs are not checked.
 *
 * @returns `[{ link, reason }]`, in document order.
 */
export function brokenReadmeLinks(markdown, files) {
  const packed = new Set(files.map((f) => posix.normalize(f)));
  const broken = [];
  for (const link of linkTargets(markdown)) {
    if (link.startsWith('#') || EXTERNAL.test(link)) continue;
    const pathPart = link.replace(/[?#].*$/, '');
    let decoded;
    try {
      decoded = decodeURIComponent(pathPart);
    } catch {
      decoded = pathPart;
    }
    if (decoded.startsWith('/')) {
      broken.push({
        link,
        reason: 'an absolute path resolves against the registry site, not the package',
      });
      continue;
    }
    const path = posix.normalize(decoded).replace(/\/$/, '');
    if (path === '..' || path.startsWith('../')) {
      broken.push({ link, reason: 'points outside the package' });
    } else if (
      path !== '.' &&
      !packed.has(path) &&
      ![...packed].some((f) => f.startsWith(`${path}/`))
    ) {
      broken.push({ link, reason: 'not in the tarball' });
    }
  }
  return broken;
}
