import { testConfig } from '../../vitest.shared';

export default testConfig({ setupFiles: ['@ssd/testing/setup'], testTimeout: 120_000 });
