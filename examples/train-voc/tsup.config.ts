import { libraryConfig } from '../../tsup.base';

export default libraryConfig({
  entry: ['src/cli.ts', 'src/index.ts', 'src/replica.ts'],
  format: ['esm'],
  dts: false,
  platform: 'node',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
});
