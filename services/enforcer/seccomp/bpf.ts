/**
 * A classic-BPF assembler: symbolic labels in, `struct sock_filter` bytes out.
 *
 * Classic BPF only jumps forward, and a conditional jump's offsets (jt, jf)
 * are 8 bits wide. When a target lies more than 255 instructions ahead the
 * assembler puts an unconditional `ja` (32-bit offset) right after the
 * conditional jump and points the short offset at it; it repeats the layout
 * until every offset fits, since each inserted `ja` moves what follows.
 * Pure: no I/O.
 */
import { LaunchError, LaunchErrorCodes } from '../errors.js';

// Instruction classes and fields (linux/bpf_common.h).
export const BPF_LD = 0x00;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_ABS = 0x20;
export const BPF_AND = 0x50;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_K = 0x00;

/** The kernel refuses longer programs (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
/** Bytes per `struct sock_filter` { u16 code; u8 jt; u8 jf; u32 k; }. */
export const SOCK_FILTER_SIZE = 8;

export interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Where a conditional jump goes: a label, or the next instruction. */
export type Target = string | typeof NEXT;
export const NEXT = Symbol('next');

export type JumpCondition = typeof BPF_JEQ | typeof BPF_JGT | typeof BPF_JGE | typeof BPF_JSET;

type Item =
  | { kind: 'stmt'; code: number; k: number }
  | { kind: 'jump'; cond: JumpCondition; k: number; jt: Target; jf: Target }
  | { kind: 'ja'; target: string }
  | { kind: 'label'; name: string };

function invalid(message: string, details: Record<string, unknown> = {}): LaunchError {
  return new LaunchError(LaunchErrorCodes.SECCOMP_PROGRAM_INVALID, message, {
    hint: 'this is a bug in the seccomp filter generator: report it with the policy that triggered it',
    details,
  });
}

function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw invalid(`${what} ${value} is not an unsigned 32-bit integer`);
  return value;
}

export class Assembler {
  private readonly items: Item[] = [];
  private readonly labels = new Set<string>();

  /** A = the 32-bit word at `offset` of the input (seccomp_data). */
  loadAbsolute(offset: number): this {
    return this.push({ kind: 'stmt', code: BPF_LD | BPF_W | BPF_ABS, k: checkU32(offset, 'load offset') });
  }

  /** A &= k. */
  and(k: number): this {
    return this.push({ kind: 'stmt', code: BPF_ALU | BPF_AND | BPF_K, k: checkU32(k, 'and operand') });
  }

  /** Return `value` (a SECCOMP_RET_* action with its data). */
  ret(value: number): this {
    return this.push({ kind: 'stmt', code: BPF_RET | BPF_K, k: checkU32(value, 'return value') });
  }

  /** If `A <cond> k` go to `jt`, else to `jf`. */
  jump(cond: JumpCondition, k: number, jt: Target, jf: Target = NEXT): this {
    return this.push({ kind: 'jump', cond, k: checkU32(k, 'jump operand'), jt, jf });
  }

  /** Unconditional jump. */
  goto(target: string): this {
    return this.push({ kind: 'ja', target });
  }

  /** Name the next instruction. */
  label(name: string): this {
    if (this.labels.has(name)) throw invalid(`label "${name}" is defined twice`, { label: name });
    this.labels.add(name);
    return this.push({ kind: 'label', name });
  }

  /** Resolve labels and lay out the program, inserting long-jump trampolines where needed. */
  assemble(): Instruction[] {
    const body = this.items;
    // Per item: does a jump need a trampoline for its true / false branch?
    const farTrue = new Set<number>();
    const farFalse = new Set<number>();
    for (;;) {
      const { index, labelAt, size } = this.layout(farTrue, farFalse);
      if (size > BPF_MAXINSNS) throw invalid(`the program has ${size} instructions, more than the kernel's ${BPF_MAXINSNS}`, { size });
      const resolve = (target: Target, at: number, from: number): number => {
        const dest = target === NEXT ? index[at + 1] ?? size : labelAt.get(target);
        if (dest === undefined) throw invalid(`label "${String(target)}" is used but never defined`, { label: target });
        const offset = dest - from - 1;
        if (offset < 0) throw invalid(`jump to label "${String(target)}" goes backwards: classic BPF only jumps forward`, { label: target });
        return offset;
      };
      let grew = false;
      const out: Instruction[] = [];
      body.forEach((item, at) => {
        const pc = index[at] as number;
        if (item.kind === 'label') return;
        if (item.kind === 'stmt') {
          out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
        } else if (item.kind === 'ja') {
          out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: resolve(item.target, at, pc) });
        } else {
          const tFar = farTrue.has(at);
          const fFar = farFalse.has(at);
          // Trampolines sit right after the jump: [jump][ja true?][ja false?].
          const jt = tFar ? 0 : resolve(item.jt, at, pc);
          const jf = fFar ? (tFar ? 1 : 0) : resolve(item.jf, at, pc);
          if (jt > 255) {
            farTrue.add(at);
            grew = true;
          }
          if (jf > 255) {
            farFalse.add(at);
            grew = true;
          }
          out.push({ code: BPF_JMP | item.cond | BPF_K, jt, jf, k: item.k });
          if (tFar) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: resolve(item.jt, at, pc + 1) });
          if (fFar) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: resolve(item.jf, at, pc + (tFar ? 2 : 1)) });
        }
      });
      if (grew) continue;
      const last = out[out.length - 1];
      if (!last || (last.code & 0x07) !== BPF_RET) throw invalid('the program must end with a return instruction');
      return out;
    }
  }

  private push(item: Item): this {
    this.items.push(item);
    return this;
  }

  /** Instruction index of every item (labels take the index of what follows) and the total size. */
  private layout(farTrue: ReadonlySet<number>, farFalse: ReadonlySet<number>) {
    const index: number[] = [];
    const labelAt = new Map<string, number>();
    let pc = 0;
    this.items.forEach((item, at) => {
      index.push(pc);
      if (item.kind === 'label') labelAt.set(item.name, pc);
      else pc += 1 + (farTrue.has(at) ? 1 : 0) + (farFalse.has(at) ? 1 : 0);
    });
    return { index, labelAt, size: pc };
  }
}

/** The little-endian `struct sock_filter` array the kernel takes. */
export function encodeProgram(program: readonly Instruction[]): Buffer {
  const out = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.forEach((insn, i) => {
    const at = i * SOCK_FILTER_SIZE;
    out.writeUInt16LE(insn.code, at);
    out.writeUInt8(insn.jt, at + 2);
    out.writeUInt8(insn.jf, at + 3);
    out.writeUInt32LE(insn.k >>> 0, at + 4);
  });
  return out;
}
