/**
 * Packed filters kept for reuse. Inference runs the same weights call after call,
 * and packing a wide filter reads and writes all of it (SSD300: ~100 MB, ~20 ms a
 * forward pass on one thread). A filter's values are packed anew the first time a
 * tensor is seen; from its second use on, a packed copy is kept on the heap until
 * the tensor's data is disposed (tfjs data never changes under a data id, and a
 * variable's update gives it a new one). So a training step, whose filters are
 * fresh each step, keeps nothing, and an inference loop keeps one packed copy of
 * its weights, as tfjs-backend-wasm's own XNNPACK convolution does.
 *
 * Kept copies live outside tfjs' accounting (`tf.memory()`), in `malloc`ed heap
 * memory, freed when the backend disposes the filter's data (its `disposeData`
 * is wrapped for that) or when {@link setFilterCaching} turns caching off.
 */
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

import type { Gemm } from './gemm';
import type { KernelScope } from './kernel-scope';
import { heapOffset, type HeapBackend } from './heap';
import { packedBytes, packPanelsAt } from './panels';

type DataId = object;

/** The tfjs-backend-wasm 4.22 internals this uses (checked before use). */
interface WasmInternals {
  wasm: { _malloc(bytes: number): number; _free(ptr: number): void; HEAPU8: Uint8Array };
  dataIdMap: { has(dataId: DataId): boolean };
  disposeData(dataId: DataId, force?: boolean): boolean;
}

interface FilterCache {
  readonly backend: WasmInternals;
  /** Filters transformed once, by kind of transform. */
  readonly seen: WeakMap<DataId, Set<string>>;
  /** Transformed filters kept: heap byte offsets and sizes by kind. */
  readonly kept: Map<DataId, Map<string, { at: number; bytes: number }>>;
}

const caches = new Map<KernelBackend, FilterCache>();
let enabled = true;

function hasInternals(backend: KernelBackend): boolean {
  const b = backend as unknown as Partial<WasmInternals>;
  return (
    typeof b.wasm?._malloc === 'function' &&
    typeof b.wasm._free === 'function' &&
    typeof b.dataIdMap?.has === 'function' &&
    typeof b.disposeData === 'function'
  );
}

function cacheOf(backend: KernelBackend): FilterCache | null {
  const hit = caches.get(backend);
  if (hit != null) return hit;
  if (!hasInternals(backend)) return null;
  const wasm = backend as unknown as WasmInternals;
  const cache: FilterCache = { backend: wasm, seen: new WeakMap(), kept: new Map() };
  // Free a kept copy with its filter's data (not while other tensors still share it).
  const disposeData = wasm.disposeData;
  wasm.disposeData = function (this: WasmInternals, dataId, force) {
    const result = disposeData.call(this, dataId, force);
    const kept = cache.kept.get(dataId);
    if (kept !== undefined && !this.dataIdMap.has(dataId)) {
      cache.kept.delete(dataId);
      for (const { at } of kept.values()) this.wasm._free(at);
    }
    return result;
  };
  const dispose = (backend as unknown as { dispose?: () => void }).dispose;
  if (typeof dispose === 'function') {
    // The whole heap goes with the backend.
    (backend as unknown as { dispose: () => void }).dispose = function (this: unknown) {
      caches.delete(backend);
      dispose.call(this);
    };
  }
  caches.set(backend, cache);
  return cache;
}

/**
 * The heap byte offset of `filter` transformed by `fill` (which writes `bytes`
 * bytes at byte `dst` of the heap `heap`) for the GEMM: a kept copy from an
 * earlier call, a copy made now and kept (the filter's second use), or a scope
 * temporary. `kind` names the transform and the shape it reads the values as (a
 * filter may be kept in more than one; reshaped views share their data id).
 */
export function cachedFilterAt(
  scope: KernelScope,
  filter: TensorInfo,
  kind: string,
  bytes: number,
  fill: (heap: ArrayBufferLike, dst: number) => void,
): number {
  const cache = enabled ? cacheOf(scope.backend) : null;
  if (cache != null) {
    const kept = cache.kept.get(filter.dataId)?.get(kind);
    if (kept !== undefined) return kept.at;
    let seen = cache.seen.get(filter.dataId);
    if (seen?.has(kind) === true) {
      const at = cache.backend.wasm._malloc(bytes) >>> 0;
      if (at === 0) throw new RangeError('@ssd/backend: out of wasm memory keeping a filter');
      try {
        fill(cache.backend.wasm.HEAPU8.buffer, at);
      } catch (error) {
        cache.backend.wasm._free(at);
        throw error;
      }
      let kinds = cache.kept.get(filter.dataId);
      if (kinds == null) cache.kept.set(filter.dataId, (kinds = new Map()));
      kinds.set(kind, { at, bytes });
      return at;
    }
    if (seen == null) cache.seen.set(filter.dataId, (seen = new Set()));
    seen.add(kind);
  }
  const wasm = scope.backend as unknown as HeapBackend;
  const temporary = scope.keepOut(wasm.makeOutput([Math.ceil(bytes / 4)], 'float32'));
  const at = heapOffset(scope.backend, temporary);
  fill((wasm.typedArrayFromHeap(temporary) as Float32Array).buffer, at);
  return at;
}

/**
 * The heap byte offset of the row-major `[K, N]` `filter` packed in panels
 * (see `packPanels`), through {@link cachedFilterAt}.
 */
export function packedFilterAt(
  scope: KernelScope,
  gemm: Gemm,
  filter: TensorInfo,
  K: number,
  N: number,
): number {
  return cachedFilterAt(scope, filter, `panels ${K}×${N}`, packedBytes(K, N), (heap, dst) =>
    packPanelsAt(heap, gemm, heapOffset(scope.backend, filter), dst, K, N),
  );
}

/** Turns the packed-filter cache on (the default) or off; off frees every kept copy. */
export function setFilterCaching(on: boolean): void {
  enabled = on;
  if (on) return;
  for (const cache of caches.values()) {
    for (const kinds of cache.kept.values()) {
      for (const { at } of kinds.values()) cache.backend.wasm._free(at);
    }
    cache.kept.clear();
  }
}

/** How many transformed filters `backend` keeps (tests, diagnostics). */
export function keptFilters(backend: KernelBackend): number {
  let n = 0;
  for (const kinds of caches.get(backend)?.kept.values() ?? []) n += kinds.size;
  return n;
}

/** Bytes of the transformed filters `backend` keeps (tests, diagnostics). */
export function keptFilterBytes(backend: KernelBackend): number {
  let n = 0;
  for (const kinds of caches.get(backend)?.kept.values() ?? []) {
    for (const { bytes } of kinds.values()) n += bytes;
  }
  return n;
}
