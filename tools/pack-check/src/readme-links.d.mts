/** Every link target of a Markdown document (inline, reference definitions, HTML href/src), code skipped. */
export function linkTargets(markdown: string): string[];

/** The relative links of a package README that do not resolve to a file of the tarball. */
export function brokenReadmeLinks(
  markdown: string,
  files: readonly string[],
): { link: string; reason: string }[];
