import { testConfig } from '../../vitest.shared';

export default testConfig({ setupFiles: ['@ssd/testing/setup'], testTimeout: 240_000 });
