import { describe, expect, it } from 'vitest';
import { Assembler, encodeProgram, NEXT } from '../../services/enforcer/seccomp/index.js';
import { runFilter } from './seccomp-interpreter.js';

const JEQ = 0x10;
const JSET = 0x40;
const RET = 0x06;
const JA = 0x05;

describe('cBPF assembler', () => {
  it('resolves labels to forward offsets counted from the next instruction', () => {
    const p = new Assembler()
      .loadAbsolute(0)
      .jump(JEQ, 7, 'seven', NEXT)
      .jump(JEQ, 8, 'eight', 'other')
      .label('seven')
      .ret(1)
      .label('eight')
      .ret(2)
      .label('other')
      .ret(3)
      .assemble();
    expect(p).toEqual([
      { code: 0x20, jt: 0, jf: 0, k: 0 },
      { code: 0x15, jt: 1, jf: 0, k: 7 },
      { code: 0x15, jt: 1, jf: 2, k: 8 },
      { code: RET, jt: 0, jf: 0, k: 1 },
      { code: RET, jt: 0, jf: 0, k: 2 },
      { code: RET, jt: 0, jf: 0, k: 3 },
    ]);
    expect([7, 8, 9].map((nr) => runFilter(p, { nr, arch: 0 }))).toEqual([1, 2, 3]);
  });

  it('encodes struct sock_filter little-endian, 8 bytes each', () => {
    const bytes = encodeProgram([{ code: 0x15, jt: 2, jf: 3, k: 0xc000003e }, { code: RET, jt: 0, jf: 0, k: 0x7fff0000 }]);
    expect(bytes.toString('hex')).toBe('150002033e0000c0' + '060000000000ff7f');
  });

  it('unconditional jumps take a 32-bit offset', () => {
    const a = new Assembler().goto('end');
    for (let i = 0; i < 1000; i++) a.ret(0);
    const p = a.label('end').ret(42).assemble();
    expect(p[0]).toEqual({ code: JA, jt: 0, jf: 0, k: 1000 });
    expect(runFilter(p, { nr: 0, arch: 0 })).toBe(42);
  });

  // Filler between a jump and its target: 300 instructions, more than jt/jf's 8 bits.
  function farProgram(trueFar: boolean, falseFar: boolean) {
    const a = new Assembler().loadAbsolute(0).jump(JEQ, 5, trueFar ? 'far_true' : 'near_true', falseFar ? 'far_false' : 'near_false');
    a.label('near_true').ret(11);
    a.label('near_false').ret(12);
    for (let i = 0; i < 300; i++) a.loadAbsolute(0);
    a.label('far_true').ret(21);
    for (let i = 0; i < 300; i++) a.loadAbsolute(0);
    a.label('far_false').ret(22);
    return a.assemble();
  }

  it.each([
    [true, false, 21, 12],
    [false, true, 11, 22],
    [true, true, 21, 22],
  ])('puts a trampoline behind a conditional jump whose target is >255 away (true far: %s, false far: %s)', (t, f, onTrue, onFalse) => {
    const p = farProgram(t, f);
    for (const insn of p) {
      expect(insn.jt).toBeLessThanOrEqual(255);
      expect(insn.jf).toBeLessThanOrEqual(255);
    }
    expect(p[1]?.code).toBe(0x15);
    expect(p[2]?.code).toBe(JA);
    expect(p.length).toBe(606 + (t ? 1 : 0) + (f ? 1 : 0));
    expect(runFilter(p, { nr: 5, arch: 0 })).toBe(onTrue);
    expect(runFilter(p, { nr: 6, arch: 0 })).toBe(onFalse);
  });

  it('keeps a target exactly 255 away short, and moves one at 256', () => {
    const build = (gap: number) => {
      const a = new Assembler().loadAbsolute(0).jump(JSET, 1, 'target').ret(0);
      for (let i = 0; i < gap - 1; i++) a.ret(0);
      return a.label('target').ret(9).assemble();
    };
    const p255 = build(255);
    expect(p255[1]).toMatchObject({ jt: 255, jf: 0 });
    const p256 = build(256);
    expect(p256[1]).toMatchObject({ jt: 0, jf: 1 });
    expect(p256[2]).toMatchObject({ code: JA, k: 256 });
    expect(runFilter(p256, { nr: 1, arch: 0 })).toBe(9);
    expect(runFilter(p256, { nr: 2, arch: 0 })).toBe(0);
  });

  it('re-lays out until stable when a trampoline pushes another jump out of range', () => {
    // The first jump is short until the second one's trampoline lands between it and its target.
    const a = new Assembler().loadAbsolute(0).jump(JEQ, 1, 'a').jump(JEQ, 2, 'b');
    for (let i = 0; i < 254; i++) a.loadAbsolute(0);
    a.label('a').ret(1);
    for (let i = 0; i < 10; i++) a.loadAbsolute(0);
    a.label('b').ret(2);
    a.ret(3);
    const p = a.assemble();
    expect(runFilter(p, { nr: 1, arch: 0 })).toBe(1);
    expect(runFilter(p, { nr: 2, arch: 0 })).toBe(2);
    expect(runFilter(p, { nr: 3, arch: 0 })).toBe(1); // falls through the loads into ret 1
    for (const insn of p) expect(insn.jt <= 255 && insn.jf <= 255).toBe(true);
  });

  it.each([
    ['an undefined label', () => new Assembler().jump(JEQ, 1, 'nowhere').ret(0).assemble(), /never defined/],
    ['a label defined twice', () => new Assembler().label('x').label('x'), /defined twice/],
    ['a backward jump', () => new Assembler().label('top').ret(0).goto('top').ret(0).assemble(), /backwards/],
    ['no final return', () => new Assembler().loadAbsolute(0).assemble(), /end with a return/],
    ['an operand over 32 bits', () => new Assembler().ret(2 ** 32), /unsigned 32-bit/],
    [
      'more than 4096 instructions',
      () => {
        const a = new Assembler();
        for (let i = 0; i <= 4096; i++) a.ret(0);
        return a.assemble();
      },
      /4096/,
    ],
  ])('refuses %s with ENFORCER_SECCOMP_PROGRAM_INVALID', (_name, build, message) => {
    expect(build).toThrow(message);
    try {
      build();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ENFORCER_SECCOMP_PROGRAM_INVALID', name: 'LaunchError' });
    }
  });
});
