/**
 * A small WebAssembly binary writer: enough of the instruction set (i32
 * arithmetic, structured control flow, 128-bit SIMD loads, stores and f32x4
 * arithmetic, relaxed multiply-add) to generate the GEMM kernels in `gemm.ts`
 * at run time, so no compiled blob or toolchain is part of the package.
 *
 * Encoding: WebAssembly Core Specification 2.0, §5 (binary format), the SIMD
 * opcodes of the fixed-width SIMD proposal and `f32x4.relaxed_madd` (0xfd 0x105)
 * of the relaxed-SIMD proposal.
 */

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

function uleb(n: number, out: number[]): void {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function name(s: string, out: number[]): void {
  const bytes = new TextEncoder().encode(s);
  uleb(bytes.length, out);
  out.push(...bytes);
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  out.push(...body);
}

/** One function body: locals by name, instructions appended in order. */
export class FuncBuilder {
  readonly code: number[] = [];
  private readonly locals = new Map<string, number>();
  private readonly extra: number[] = [];

  constructor(readonly params: readonly string[]) {
    params.forEach((p, i) => this.locals.set(p, i));
  }

  /** Declares a local (after the i32 parameters). */
  local(nameOf: string, type: number): this {
    this.locals.set(nameOf, this.params.length + this.extra.length);
    this.extra.push(type);
    return this;
  }

  private index(l: string): number {
    const i = this.locals.get(l);
    if (i === undefined) throw new Error(`wasm-emit: unknown local ${l}`);
    return i;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(opcode: number): this {
    this.code.push(0xfd);
    uleb(opcode, this.code);
    return this;
  }

  private memarg(align: number, offset: number): this {
    uleb(align, this.code);
    uleb(offset, this.code);
    return this;
  }

  get(l: string): this {
    this.code.push(0x20);
    uleb(this.index(l), this.code);
    return this;
  }

  set(l: string): this {
    this.code.push(0x21);
    uleb(this.index(l), this.code);
    return this;
  }

  i32(n: number): this {
    this.code.push(0x41);
    sleb(n, this.code);
    return this;
  }

  add(): this {
    return this.op(0x6a);
  }

  sub(): this {
    return this.op(0x6b);
  }

  mul(): this {
    return this.op(0x6c);
  }

  divU(): this {
    return this.op(0x6e);
  }

  and(): this {
    return this.op(0x71);
  }

  /** i32.lt_s */
  lt(): this {
    return this.op(0x48);
  }

  /** i32.gt_s */
  gt(): this {
    return this.op(0x4a);
  }

  /** i32.le_s */
  le(): this {
    return this.op(0x4c);
  }

  eqz(): this {
    return this.op(0x45);
  }

  block(): this {
    return this.op(0x02, 0x40);
  }

  loop(): this {
    return this.op(0x03, 0x40);
  }

  if(): this {
    return this.op(0x04, 0x40);
  }

  else(): this {
    return this.op(0x05);
  }

  end(): this {
    return this.op(0x0b);
  }

  br(depth: number): this {
    return this.op(0x0c, depth);
  }

  brIf(depth: number): this {
    return this.op(0x0d, depth);
  }

  f32Store(offset = 0): this {
    return this.op(0x38).memarg(2, offset);
  }

  v128Load(offset = 0): this {
    return this.simd(0x00).memarg(0, offset);
  }

  v128Load32Splat(offset = 0): this {
    return this.simd(0x09).memarg(2, offset);
  }

  v128Store(offset = 0): this {
    return this.simd(0x0b).memarg(0, offset);
  }

  v128Zero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  /** A 128-bit constant of four equal f32 lanes. */
  f32x4Const(value: number): this {
    this.simd(0x0c);
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    for (let i = 0; i < 4; i++) this.code.push(...bytes);
    return this;
  }

  /** Lane-wise `a > b` (false where either is NaN): all-ones or zero lanes. */
  f32x4Gt(): this {
    return this.simd(0x44);
  }

  /** `(a & mask) | (b & ~mask)` with operands pushed a, b, mask. */
  v128Bitselect(): this {
    return this.simd(0x52);
  }

  v128And(): this {
    return this.simd(0x4e);
  }

  /** `a & ~b` with operands pushed a, b. */
  v128AndNot(): this {
    return this.simd(0x4f);
  }

  f32x4ExtractLane(lane: number): this {
    return this.simd(0x1f).op(lane);
  }

  f32x4Add(): this {
    return this.simd(0xe4);
  }

  f32x4Sub(): this {
    return this.simd(0xe5);
  }

  f32x4Mul(): this {
    return this.simd(0xe6);
  }

  f32x4Max(): this {
    return this.simd(0xe9);
  }

  /** `a·b + c` with operands pushed a, b, c; fused or not, as the engine chooses. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }

  /** The body with its local declarations, as the code section stores it. */
  encode(): number[] {
    const body: number[] = [];
    uleb(this.extra.length, body);
    for (const t of this.extra) {
      body.push(1, t);
    }
    body.push(...this.code, 0x0b);
    const out: number[] = [];
    uleb(body.length, out);
    out.push(...body);
    return out;
  }
}

/** Pages in the largest 32-bit wasm memory (4 GiB). */
const MAX_PAGES = 65536;

/**
 * A module importing `env.memory` and exporting each function under its name;
 * every function takes i32 parameters and returns nothing. The memory import
 * has no maximum, or, `shared` (threads), the largest one, as a shared memory
 * must declare one and any actual maximum fits under it.
 */
export function emitModule(
  funcs: ReadonlyArray<{ name: string; body: FuncBuilder }>,
  options: { shared?: boolean } = {},
): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(funcs.length, types);
  for (const f of funcs) {
    types.push(0x60);
    uleb(f.body.params.length, types);
    for (let i = 0; i < f.body.params.length; i++) types.push(I32);
    types.push(0);
  }
  section(1, types, out);
  const imports: number[] = [1];
  name('env', imports);
  name('memory', imports);
  if (options.shared) {
    imports.push(0x02, 0x03, 0x01);
    uleb(MAX_PAGES, imports);
  } else {
    imports.push(0x02, 0x00, 0x01);
  }
  section(2, imports, out);
  const fns: number[] = [];
  uleb(funcs.length, fns);
  funcs.forEach((_, i) => uleb(i, fns));
  section(3, fns, out);
  const exports: number[] = [];
  uleb(funcs.length, exports);
  funcs.forEach((f, i) => {
    name(f.name, exports);
    exports.push(0x00);
    uleb(i, exports);
  });
  section(7, exports, out);
  const code: number[] = [];
  uleb(funcs.length, code);
  for (const f of funcs) code.push(...f.body.encode());
  section(10, code, out);
  return Uint8Array.from(out);
}
