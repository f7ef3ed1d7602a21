/**
 * What the hand-written WebAssembly kernels share: the slice of the WebAssembly JS API they use (the
 * project's TypeScript lib has no DOM types) and their instantiation from the base64 modules that
 * scripts/build-wasm.ts generates.
 */

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number; maximum: number; shared: true }) => SharedWasmMemory;
};

/** A shared memory: its buffer is a SharedArrayBuffer that other threads may be given. */
export interface SharedWasmMemory {
  readonly buffer: SharedArrayBuffer;
}

/** A shared memory of `bytes` (whole pages), which never grows. */
export function sharedMemory(bytes: number): SharedWasmMemory {
  const pages = Math.ceil(bytes / WASM_PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

export const WASM_PAGE = 65_536;

/** Compiles and instantiates a kernel module; the caller states its exports' shape. */
export function instantiateKernel<Exports>(base64: string, imports: object = {}): Exports {
  const module = new WebAssembly.Module(Buffer.from(base64, "base64"));
  return new WebAssembly.Instance(module, imports).exports as unknown as Exports;
}

/** Grows `memory` to at least `bytes`. */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  if (memory.buffer.byteLength < bytes)
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / WASM_PAGE));
}
