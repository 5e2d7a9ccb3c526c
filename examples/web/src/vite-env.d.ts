/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The run whose `model/` the build bundled as `models/default/`; empty without one. */
  readonly VITE_DEFAULT_MODEL: string;
}
