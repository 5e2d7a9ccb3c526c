/**
 * Backends a test run may select with `SSD_TEST_BACKEND`, each with the
 * import that registers it. `cpu` is registered by the setup file itself.
 */
export const registeredTestBackends: Record<string, (() => Promise<unknown>) | undefined> = {
  cpu: async () => undefined,
};
