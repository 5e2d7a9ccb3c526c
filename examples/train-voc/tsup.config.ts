import { libraryConfig } from '../../tsup.base';

export default libraryConfig({
  entry: ['src/cli.ts', 'src/index.ts'],
  format: ['esm'],
  dts: false,
  platform: 'node',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
});
