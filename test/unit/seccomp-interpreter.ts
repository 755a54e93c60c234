/**
 * A classic-BPF interpreter for tests, written from the kernel's semantics
 * (net/core/filter.c, the subset seccomp accepts and our generator emits):
 * it lets unit tests evaluate a program against any seccomp_data, including
 * architectures and arguments a test process cannot produce for real.
 */
import type { Instruction } from '../../services/enforcer/seccomp/index.js';

export interface SeccompData {
  nr: number;
  arch: number;
  args?: bigint[];
}

function word(data: SeccompData, offset: number): number {
  if (offset === 0) return data.nr >>> 0;
  if (offset === 4) return data.arch >>> 0;
  if (offset >= 16 && offset < 64 && offset % 4 === 0) {
    const arg = data.args?.[Math.floor((offset - 16) / 8)] ?? 0n;
    const half = (offset - 16) % 8 === 0 ? arg & 0xffffffffn : (arg >> 32n) & 0xffffffffn;
    return Number(half);
  }
  throw new Error(`load from offset ${offset} is outside seccomp_data`);
}

/** Runs the program; returns the value of the RET it reaches. */
export function runFilter(program: readonly Instruction[], data: SeccompData): number {
  let a = 0;
  for (let pc = 0; pc < program.length; ) {
    const insn = program[pc] as Instruction;
    switch (insn.code) {
      case 0x20: // LD | W | ABS
        a = word(data, insn.k);
        pc++;
        break;
      case 0x54: // ALU | AND | K
        a = (a & insn.k) >>> 0;
        pc++;
        break;
      case 0x05: // JMP | JA
        pc += 1 + insn.k;
        break;
      case 0x15: // JEQ
        pc += 1 + (a === insn.k >>> 0 ? insn.jt : insn.jf);
        break;
      case 0x25: // JGT
        pc += 1 + (a > insn.k >>> 0 ? insn.jt : insn.jf);
        break;
      case 0x35: // JGE
        pc += 1 + (a >= insn.k >>> 0 ? insn.jt : insn.jf);
        break;
      case 0x45: // JSET
        pc += 1 + ((a & insn.k) !== 0 ? insn.jt : insn.jf);
        break;
      case 0x06: // RET | K
        return insn.k >>> 0;
      default:
        throw new Error(`instruction ${insn.code.toString(16)} at ${pc} is not supported`);
    }
  }
  throw new Error('the program ran off its end');
}
