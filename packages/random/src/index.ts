export { SeededRng, createRng } from './rng';
export type { RandomSource } from './rng';
export { mixSeed } from './mix-seed';
export { permutation } from './permutation';
