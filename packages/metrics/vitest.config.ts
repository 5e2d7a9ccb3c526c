import { testConfig } from '../../vitest.shared';

// Typed-array code only: no tensors, so no backend set-up file.
export default testConfig();
