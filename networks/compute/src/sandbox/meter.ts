// Metering by instrumentation. One walk over every function body (binaryen IR) does three jobs:
//
// 1. refuses the instructions the sandbox does not run (policy.ts: threads, SIMD, exceptions…),
//    naming the feature;
// 2. charges fuel. A compute unit is one binaryen IR expression of the original module, blocks
//    excepted (they are structure, not work): roughly one WebAssembly instruction. The count is
//    charged per straight-line region, at the region's entry, from a mutable i64 global:
//      - a function body, a loop body (so every iteration pays), each arm of an `if`;
//      - the rest of a block's list after a statement that may branch out of it (br, br_if,
//        br_table or return to a label outside the statement): the code after a conditional
//        branch runs only when it is not taken.
//    Each region pays for all of its expressions, except those inside nested regions, which pay
//    for themselves. A branch, trap or proc_exit in the middle of a region has already paid for
//    the region's rest: compute units are the instructions of the regions entered, an exact
//    integer fixed by the module's code and the path its input drives it through, and so the
//    same for every honest provider, whatever engine, JIT tier, timing or host. (It depends on
//    this walk and on how binaryen 132 reads the binary into IR: METER_VERSION names the rules.)
//    memory.grow, memory.fill, memory.copy and memory.init also pay for the bytes they touch
//    (1 unit per 8 bytes; 8192 units per page grown), and the host charges for WASI calls
//    (policy.ts). A charge that takes the fuel below zero traps (`unreachable`); the runner sees
//    the negative fuel and reports 'fuel-exhausted'.
// 3. makes the rest deterministic: a stack budget (each call to a function that itself calls
//    charges an estimate of its frame; the engine's own stack limit depends on the machine and
//    on the JIT tier), a run-time memory cap (memory.grow past the task's cap returns -1, as a
//    refused grow does in WebAssembly), and NaN canonicalization where NaN bits become visible
//    (policy.ts).
//
// The instrumented module takes its limits from exported globals that the runner sets before
// _start, so one instrumented module (cached by the original's CID) serves every task. binaryen's
// optimizer runs afterwards (-O2, no fast-math, traps preserved): it cannot change the charges,
// which are constants in the code, only make them cheaper.
import type binaryen from 'binaryen';
import { B, select } from './binaryen-api.ts';
import { SandboxError } from './errors.ts';
import { METER_EXPORTS } from './meter-exports.ts';

/** Units charged per byte touched by memory.fill/copy/init (as a shift: 1 unit per 8 bytes). */
const BULK_BYTES_SHIFT = 3;
/** Units charged per 64 KiB page that memory.grow adds (the same 1 per 8 bytes). */
const GROW_UNITS_PER_PAGE = 65536 >> BULK_BYTES_SHIFT;

/**
 * Estimated frame bytes of a call: a fixed part plus 16 per local and per operand-stack slot.
 * V8's frames (Liftoff's are the largest: 8 bytes per local and spill slot plus a header) stay
 * below half of this: the test fixture `recurseTo` recurses about 17,900 deep in Node 20's
 * default 984 KiB stack, ~56 bytes a frame, where this estimates 128 to 160. With the budget at most a
 * quarter of the worker's real stack (policy.ts), the budget runs out first. Functions that call
 * no other function (leaves) are not charged: they cannot recurse, so they add one frame at most.
 */
const FRAME_FIXED = 64;
const FRAME_PER_SLOT = 16;

const { i32, i64, f32, f64 } = B;

export type MeterStats = {
  /** Functions instrumented (imports excluded). */
  functions: number;
  /** Fuel charges inserted. */
  charges: number;
  /** Functions that got the stack-budget check (those that call other functions). */
  stackChecked: number;
};

type Segment = { cost: number };

/** Relaxed-SIMD opcodes, to name them when refused (binaryen numbers each kind of op separately). */
const RELAXED = {
  unary: new Set([
    B.RelaxedTruncSVecF32x4ToVecI32x4,
    B.RelaxedTruncUVecF32x4ToVecI32x4,
    B.RelaxedTruncZeroSVecF64x2ToVecI32x4,
    B.RelaxedTruncZeroUVecF64x2ToVecI32x4,
  ]),
  binary: new Set([
    B.RelaxedSwizzleVecI8x16,
    B.RelaxedMinVecF32x4,
    B.RelaxedMaxVecF32x4,
    B.RelaxedMinVecF64x2,
    B.RelaxedMaxVecF64x2,
    B.RelaxedQ15MulrSVecI16x8,
    B.RelaxedDotI8x16I7x16SToVecI16x8,
  ]),
  ternary: new Set([
    B.RelaxedMaddVecF32x4,
    B.RelaxedNmaddVecF32x4,
    B.RelaxedMaddVecF64x2,
    B.RelaxedNmaddVecF64x2,
    B.RelaxedLaneselectI8x16,
    B.RelaxedLaneselectI16x8,
    B.RelaxedLaneselectI32x4,
    B.RelaxedLaneselectI64x2,
    B.RelaxedDotI8x16I7x16AddSToVecI32x4,
  ]),
};

/** Expression kinds refused, by the feature they belong to. */
const REFUSED_KINDS: [string, string[]][] = [
  ['threads (atomic instructions)', ['AtomicRMW', 'AtomicCmpxchg', 'AtomicWait', 'AtomicNotify', 'AtomicFence', 'Pause']],
  ['SIMD', ['SIMDExtract', 'SIMDReplace', 'SIMDShuffle', 'SIMDTernary', 'SIMDShift', 'SIMDLoad', 'SIMDLoadStoreLane']],
  ['exception handling', ['Try', 'TryTable', 'Throw', 'Rethrow', 'ThrowRef', 'Pop']],
  [
    'table.grow / table.fill / table.copy / table.init (unmetered table growth and bulk table operations)',
    ['TableGrow', 'TableFill', 'TableCopy', 'TableInit'],
  ],
  [
    'GC / typed function references',
    [
      'CallRef',
      'RefTest',
      'RefCast',
      'RefGetDesc',
      'BrOn',
      'StructNew',
      'StructGet',
      'StructSet',
      'StructRMW',
      'StructCmpxchg',
      'ArrayNew',
      'ArrayNewData',
      'ArrayNewElem',
      'ArrayNewFixed',
      'ArrayGet',
      'ArraySet',
      'ArrayLoad',
      'ArrayStore',
      'ArrayLen',
      'ArrayCopy',
      'ArrayFill',
      'ArrayInitData',
      'ArrayInitElem',
      'ArrayRMW',
      'ArrayCmpxchg',
      'RefAs',
      'RefEq',
      'RefI31',
      'I31Get',
      'StructWait',
      'StructNotify',
    ],
  ],
  [
    'strings',
    [
      'StringNew',
      'StringConst',
      'StringMeasure',
      'StringEncode',
      'StringConcat',
      'StringEq',
      'StringTest',
      'StringWTF16Get',
      'StringSliceWTF',
    ],
  ],
  ['stack switching', ['ContNew', 'ContBind', 'Suspend', 'Resume', 'ResumeThrow', 'StackSwitch']],
  ['wide arithmetic', ['WideIntAddSub', 'WideIntMul']],
];
const REFUSED_BY_ID = new Map<number, string>();
for (const [feature, kinds] of REFUSED_KINDS) {
  for (const kind of kinds) {
    const id = (B as unknown as Record<string, number | undefined>)[`${kind}Id`];
    if (typeof id === 'number') REFUSED_BY_ID.set(id, `${feature}: ${kind}`);
  }
}

const refuse = (what: string, where: string): never => {
  throw new SandboxError('feature-refused', `module uses ${what} (in ${where}), which the sandbox refuses`);
};

/** Value types a local, global or expression may have: numbers, funcref and externref. */
const ALLOWED_VALUE_TYPES = new Set<number>([i32, i64, f32, f64, B.funcref, B.externref]);
const typeVerdicts = new Map<number, string | null>();
/** Why a type is refused, or null; multi-value tuples are checked element by element. */
function refusedType(type: number): string | null {
  if (type === B.none || type === B.unreachable) return null;
  let verdict = typeVerdicts.get(type);
  if (verdict !== undefined) return verdict;
  verdict = null;
  for (const t of B.expandType(type)) {
    if (t === B.v128) verdict = 'SIMD (v128 values)';
    else if (!ALLOWED_VALUE_TYPES.has(t)) verdict = 'GC / typed references (a reference type other than funcref and externref)';
    if (verdict) break;
  }
  typeVerdicts.set(type, verdict);
  return verdict;
}

/** Checks a type from a declaration (a global, a local), naming it when refused. */
export function checkDeclaredType(type: number, where: string): void {
  const why = refusedType(type);
  if (why) refuse(why, where);
}

type Ctx = {
  m: binaryen.Module;
  memory: string | undefined;
  fuel: string;
  stack: string;
  memoryMax: string;
  growRefused: string;
  imports: Set<string>;
  helpers: Map<string, string>;
  stats: MeterStats;
  newName: (base: string) => string;
};

/**
 * Instruments `m` in place (see the header) and returns what it did. `memory` is the internal
 * name of the module's (single, exported) memory. Throws SandboxError('feature-refused') naming
 * the first refused instruction or type.
 */
export function instrument(m: binaryen.Module, memory: string | undefined): MeterStats {
  const taken = new Set<string>();
  const newName = (base: string) => {
    let name = base;
    for (let i = 1; m.getGlobal(name) !== 0 || m.getFunction(name) !== 0 || taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const imports = new Set<string>();
  const defined: number[] = [];
  for (let i = 0; i < m.getNumFunctions(); i++) {
    const f = m.getFunctionByIndex(i);
    const info = B.getFunctionInfo(f);
    if (info.module) imports.add(info.name);
    else defined.push(f);
  }
  const ctx: Ctx = {
    m,
    memory,
    fuel: newName('__groundwork_fuel'),
    stack: newName('__groundwork_stack'),
    memoryMax: newName('__groundwork_memory_max'),
    growRefused: newName('__groundwork_grow_refused'),
    imports,
    helpers: new Map(),
    stats: { functions: 0, charges: 0, stackChecked: 0 },
    newName,
  };
  m.addGlobal(ctx.fuel, i64, true, m.i64.const(0n));
  m.addGlobal(ctx.stack, i32, true, m.i32.const(0));
  m.addGlobal(ctx.memoryMax, i32, true, m.i32.const(0));
  m.addGlobal(ctx.growRefused, i64, true, m.i64.const(0n));
  for (const f of defined) new FunctionMeter(ctx, f).run();
  m.addGlobalExport(ctx.fuel, METER_EXPORTS.fuel);
  m.addGlobalExport(ctx.stack, METER_EXPORTS.stack);
  m.addGlobalExport(ctx.memoryMax, METER_EXPORTS.memoryMax);
  m.addGlobalExport(ctx.growRefused, METER_EXPORTS.growRefused);
  moveStartIntoEntry(ctx);
  return ctx.stats;
}

/**
 * A start function would run inside `new WebAssembly.Instance`, before the runner has set the
 * fuel; it is called first thing from _start instead (same order as before: start, then _start).
 */
function moveStartIntoEntry(ctx: Ctx): void {
  const { m } = ctx;
  const start = m.getStart();
  if (!start) return;
  const startName = B.getFunctionInfo(start).name;
  const entry = B.getExportInfo(m.getExport('_start')).value;
  const wrapper = ctx.newName('__groundwork_start');
  m.addFunction(wrapper, B.none, B.none, [], m.block(null, [m.call(startName, [], B.none), m.call(entry, [], B.none)]));
  m.removeExport('_start');
  m.addFunctionExport(wrapper, '_start');
  m.setStart(0);
}

/** Charges `units` (an i64 expression) and traps if the fuel goes below zero. */
function chargeDynamic(ctx: Ctx, units: number): number {
  const { m, fuel } = ctx;
  return m.block(null, [
    m.global.set(fuel, m.i64.sub(m.global.get(fuel, i64), units)),
    m.if(m.i64.lt_s(m.global.get(fuel, i64), m.i64.const(0n)), m.unreachable()),
  ]);
}

/** A helper function, created on first use, that does a bulk memory operation after charging for it. */
function bulkHelper(ctx: Ctx, kind: 'fill' | 'copy' | 'init', segment?: string): string {
  const key = segment === undefined ? kind : `${kind}:${segment}`;
  const existing = ctx.helpers.get(key);
  if (existing) return existing;
  const { m, memory } = ctx;
  const name = ctx.newName(`__groundwork_memory_${kind}`);
  const p = (i: number) => m.local.get(i, i32);
  const op =
    kind === 'fill'
      ? m.memory.fill(p(0), p(1), p(2), memory)
      : kind === 'copy'
        ? m.memory.copy(p(0), p(1), p(2), memory, memory)
        : m.memory.init(segment!, p(0), p(1), p(2), memory);
  const units = m.i64.shr_u(m.i64.extend_u(p(2)), m.i64.const(BigInt(BULK_BYTES_SHIFT)));
  m.addFunction(name, B.createType([i32, i32, i32]), B.none, [], m.block(null, [chargeDynamic(ctx, units), op]));
  ctx.helpers.set(key, name);
  return name;
}

/**
 * memory.grow with the task's cap: past the cap it returns -1 (what a refused grow returns in
 * WebAssembly, so a program can handle it) and records the pages asked for, which the runner
 * reports as 'memory-cap' if the run then fails; a grow that succeeds pays for its pages.
 */
function growHelper(ctx: Ctx): string {
  const existing = ctx.helpers.get('grow');
  if (existing) return existing;
  const { m, memory } = ctx;
  const name = ctx.newName('__groundwork_memory_grow');
  const delta = () => m.local.get(0, i32);
  const size = () => m.memory.size(memory);
  const body = m.block(
    null,
    [
      m.if(
        m.i32.gt_u(delta(), m.i32.sub(m.global.get(ctx.memoryMax, i32), size())),
        m.block(null, [
          m.global.set(ctx.growRefused, m.i64.add(m.i64.extend_u(size()), m.i64.extend_u(delta()))),
          m.return(m.i32.const(-1)),
        ]),
      ),
      m.local.set(1, m.memory.grow(delta(), memory)),
      m.if(
        m.i32.ne(m.local.get(1, i32), m.i32.const(-1)),
        chargeDynamic(ctx, m.i64.mul(m.i64.extend_u(delta()), m.i64.const(BigInt(GROW_UNITS_PER_PAGE)))),
      ),
      m.local.get(1, i32),
    ],
    i32,
  );
  m.addFunction(name, i32, i32, [i32], body);
  ctx.helpers.set('grow', name);
  return name;
}

/** Whether a function body calls another defined function (directly or through a table). */
function callsOthers(e: number, imports: Set<string>): boolean {
  const id = B.getExpressionId(e);
  if (id === B.CallIndirectId) return true;
  if (id === B.CallId && !imports.has(B.Call.getTarget(e))) return true;
  for (const c of childrenOf(e)) if (callsOthers(c, imports)) return true;
  return false;
}

/** The child expressions of `e`, for the kinds the sandbox runs (refused kinds have none here). */
function childrenOf(e: number): number[] {
  const id = B.getExpressionId(e);
  const list: number[] = [];
  const add = (c: number) => {
    if (c) list.push(c);
  };
  switch (id) {
    case B.BlockId:
      return B.Block.getChildren(e);
    case B.IfId:
      add(B.If.getCondition(e));
      add(B.If.getIfTrue(e));
      add(B.If.getIfFalse(e));
      break;
    case B.LoopId:
      add(B.Loop.getBody(e));
      break;
    case B.CallId:
      return B.Call.getOperands(e);
    case B.CallIndirectId:
      return [...B.CallIndirect.getOperands(e), B.CallIndirect.getTarget(e)];
    case B.TupleMakeId:
      return B.TupleMake.getOperands(e);
    default:
      for (const [get] of SLOTS.get(id) ?? []) add(get(e));
  }
  return list;
}

type Slot = [get: (e: number) => number, set: (e: number, c: number) => void];
/** Fixed child slots of the non-control expressions, in evaluation order. */
const SLOTS = new Map<number, Slot[]>([
  [
    B.BreakId,
    [
      [B.Break.getValue, B.Break.setValue],
      [B.Break.getCondition, B.Break.setCondition],
    ],
  ],
  [
    B.SwitchId,
    [
      [B.Switch.getValue, B.Switch.setValue],
      [B.Switch.getCondition, B.Switch.setCondition],
    ],
  ],
  [B.LocalSetId, [[B.LocalSet.getValue, B.LocalSet.setValue]]],
  [B.GlobalSetId, [[B.GlobalSet.getValue, B.GlobalSet.setValue]]],
  [B.LoadId, [[B.Load.getPtr, B.Load.setPtr]]],
  [
    B.StoreId,
    [
      [B.Store.getPtr, B.Store.setPtr],
      [B.Store.getValue, B.Store.setValue],
    ],
  ],
  [B.UnaryId, [[B.Unary.getValue, B.Unary.setValue]]],
  [
    B.BinaryId,
    [
      [B.Binary.getLeft, B.Binary.setLeft],
      [B.Binary.getRight, B.Binary.setRight],
    ],
  ],
  [
    B.SelectId,
    [
      [B.Select.getIfTrue, B.Select.setIfTrue],
      [B.Select.getIfFalse, B.Select.setIfFalse],
      [B.Select.getCondition, B.Select.setCondition],
    ],
  ],
  [B.DropId, [[B.Drop.getValue, B.Drop.setValue]]],
  [B.ReturnId, [[B.Return.getValue, B.Return.setValue]]],
  [B.MemoryGrowId, [[B.MemoryGrow.getDelta, B.MemoryGrow.setDelta]]],
  [
    B.MemoryInitId,
    [
      [B.MemoryInit.getDest, B.MemoryInit.setDest],
      [B.MemoryInit.getOffset, B.MemoryInit.setOffset],
      [B.MemoryInit.getSize, B.MemoryInit.setSize],
    ],
  ],
  [
    B.MemoryCopyId,
    [
      [B.MemoryCopy.getDest, B.MemoryCopy.setDest],
      [B.MemoryCopy.getSource, B.MemoryCopy.setSource],
      [B.MemoryCopy.getSize, B.MemoryCopy.setSize],
    ],
  ],
  [
    B.MemoryFillId,
    [
      [B.MemoryFill.getDest, B.MemoryFill.setDest],
      [B.MemoryFill.getValue, B.MemoryFill.setValue],
      [B.MemoryFill.getSize, B.MemoryFill.setSize],
    ],
  ],
  [B.RefIsNullId, [[B.RefIsNull.getValue, B.RefIsNull.setValue]]],
  [B.TableGetId, [[B.TableGet.getIndex, B.TableGet.setIndex]]],
  [
    B.TableSetId,
    [
      [B.TableSet.getIndex, B.TableSet.setIndex],
      [B.TableSet.getValue, B.TableSet.setValue],
    ],
  ],
  [B.TupleExtractId, [[B.TupleExtract.getTuple, B.TupleExtract.setTuple]]],
]);
/** Kinds with no children that the sandbox runs as they are. */
const LEAVES = new Set<number>([
  B.NopId,
  B.LocalGetId,
  B.GlobalGetId,
  B.ConstId,
  B.MemorySizeId,
  B.UnreachableId,
  B.DataDropId,
  B.RefNullId,
  B.RefFuncId,
  B.TableSizeId,
]);
for (const kind of ['ElemDrop']) {
  const id = (B as unknown as Record<string, number | undefined>)[`${kind}Id`];
  if (typeof id === 'number') LEAVES.add(id);
}

/** Instruments one function. */
class FunctionMeter {
  private readonly m: binaryen.Module;
  private readonly name: string;
  /** Enclosing block and loop labels, innermost last. */
  private readonly labels: string[] = [];
  /** Set by visit: the outermost label index the expression may branch to (-1: return; Infinity: none). */
  private reach = Number.POSITIVE_INFINITY;
  /** Set by visit: the operand-stack slots the expression needs (for the frame estimate). */
  private height = 0;
  private maxHeight = 0;
  private readonly scratch = new Map<number, number>();
  /** Whether the function calls other functions: only those get the stack-budget check. */
  private readonly tracksStack: boolean;
  /** The local that carries the result past the stack-budget release, for functions with results. */
  private resultLocal = -1;
  /** i32.const nodes holding this function's frame estimate, filled in once the walk knows it. */
  private readonly frameConsts: number[] = [];

  constructor(
    private readonly ctx: Ctx,
    private readonly func: number,
  ) {
    this.m = ctx.m;
    this.name = B.Function.getName(func);
    this.tracksStack = callsOthers(B.Function.getBody(func), ctx.imports);
  }

  run(): void {
    const { func, m } = this;
    const results = B.Function.getResults(func);
    if (this.tracksStack && results !== B.none) this.resultLocal = this.addVar(results);
    let body = this.region(B.Function.getBody(func));
    for (const t of B.expandType(B.Function.getParams(func))) checkDeclaredType(t, `function ${this.name}`);
    for (let i = 0; i < B.Function.getNumVars(func); i++) checkDeclaredType(B.Function.getVar(func, i), `function ${this.name}`);
    checkDeclaredType(results, `function ${this.name}`);
    if (this.tracksStack) {
      const enter = m.block(null, [
        m.global.set(this.ctx.stack, m.i32.sub(m.global.get(this.ctx.stack, i32), this.frameConst())),
        m.if(m.i32.lt_s(m.global.get(this.ctx.stack, i32), m.i32.const(0)), m.unreachable()),
      ]);
      body =
        results === B.none
          ? m.block(null, [enter, body, this.release()])
          : m.block(null, [enter, m.local.set(this.resultLocal, body), this.release(), m.local.get(this.resultLocal, results)], results);
      const frame = FRAME_FIXED + FRAME_PER_SLOT * (B.Function.getNumLocals(func) + this.maxHeight);
      for (const c of this.frameConsts) B.Const.setValueI32(c, frame);
      this.ctx.stats.stackChecked++;
    }
    B.Function.setBody(func, body);
    this.ctx.stats.functions++;
  }

  private frameConst(): number {
    const c = this.m.i32.const(0);
    this.frameConsts.push(c);
    return c;
  }

  private release(): number {
    const { m } = this;
    return m.global.set(this.ctx.stack, m.i32.add(m.global.get(this.ctx.stack, i32), this.frameConst()));
  }

  private addVar(type: number): number {
    return B._BinaryenFunctionAddVar(this.func, type);
  }

  private scratchLocal(type: number): number {
    let index = this.scratch.get(type);
    if (index === undefined) {
      index = this.addVar(type);
      this.scratch.set(type, index);
    }
    return index;
  }

  /** A fuel charge of a constant number of units. */
  private charge(units: number): number {
    this.ctx.stats.charges++;
    return chargeDynamic(this.ctx, this.m.i64.const(BigInt(units)));
  }

  /** Visits `body` as a region of its own and puts its charge in front of it. */
  private region(body: number): number {
    const seg: Segment = { cost: 0 };
    const r = this.visit(body, seg);
    if (seg.cost === 0) return r;
    return this.m.block(null, [this.charge(seg.cost), r], B.getExpressionType(r));
  }

  /**
   * Visits `e`, counting it in `seg`; returns the expression to put in its place (the same one
   * unless it had to be rewritten) and sets this.reach and this.height.
   */
  private visit(e: number, seg: Segment): number {
    const id = B.getExpressionId(e);
    const type = B.getExpressionType(e);
    const badType = refusedType(type);
    if (badType) this.refuseTyped(e, id, badType);
    const refused = REFUSED_BY_ID.get(id);
    if (refused) refuse(refused, `function ${this.name}`);
    if (id !== B.BlockId) seg.cost++;
    switch (id) {
      case B.BlockId:
        return this.block(e, seg);
      case B.LoopId: {
        const name = B.Loop.getName(e);
        if (name) this.labels.push(name);
        const body = this.region(B.Loop.getBody(e));
        B.Loop.setBody(e, body);
        if (name) this.labels.pop();
        this.height = Math.max(1, this.height);
        return e;
      }
      case B.IfId: {
        let reach = this.slot(e, seg, B.If.getCondition, B.If.setCondition);
        let height = this.height;
        B.If.setIfTrue(e, this.region(B.If.getIfTrue(e)));
        reach = Math.min(reach, this.reach);
        height = Math.max(height, this.height);
        const ifFalse = B.If.getIfFalse(e);
        if (ifFalse) {
          B.If.setIfFalse(e, this.region(ifFalse));
          reach = Math.min(reach, this.reach);
          height = Math.max(height, this.height);
        }
        return this.done(e, reach, height);
      }
      case B.CallId: {
        if (B.Call.isReturn(e)) refuse('tail calls (return_call)', `function ${this.name}`);
        const n = B.Call.getNumOperands(e);
        return this.operands(e, seg, n, B.Call.getOperandAt, B.Call.setOperandAt);
      }
      case B.CallIndirectId: {
        if (B.CallIndirect.isReturn(e)) refuse('tail calls (return_call_indirect)', `function ${this.name}`);
        const n = B.CallIndirect.getNumOperands(e);
        this.operands(e, seg, n, B.CallIndirect.getOperandAt, B.CallIndirect.setOperandAt);
        const reach = this.reach;
        const height = this.height;
        this.slot(e, seg, B.CallIndirect.getTarget, B.CallIndirect.setTarget);
        return this.done(e, Math.min(reach, this.reach), Math.max(height, n + this.height));
      }
      case B.TupleMakeId:
        return this.operands(e, seg, B.TupleMake.getNumOperands(e), B.TupleMake.getOperandAt, B.TupleMake.setOperandAt);
      default:
        break;
    }
    if (LEAVES.has(id)) return this.done(e, Number.POSITIVE_INFINITY, 1);
    const slots = SLOTS.get(id);
    if (!slots) return refuse(`an instruction the sandbox does not run (binaryen expression kind ${id})`, `function ${this.name}`);
    let reach = Number.POSITIVE_INFINITY;
    let height = 0;
    slots.forEach(([get, set], i) => {
      reach = Math.min(reach, this.slot(e, seg, get, set));
      height = Math.max(height, i + this.height);
    });
    switch (id) {
      case B.BreakId:
        reach = Math.min(reach, this.labelIndex(B.Break.getName(e)));
        break;
      case B.SwitchId:
        for (const name of [...B.Switch.getNames(e), B.Switch.getDefaultName(e)]) if (name) reach = Math.min(reach, this.labelIndex(name));
        break;
      case B.ReturnId:
        reach = -1;
        return this.done(this.rewriteReturn(e), reach, height);
      case B.LoadId:
        if (B.Load.isAtomic(e)) refuse('threads (atomic loads)', `function ${this.name}`);
        break;
      case B.StoreId: {
        if (B.Store.isAtomic(e)) refuse('threads (atomic stores)', `function ${this.name}`);
        const vt = B.Store.getValueType(e);
        if (vt === f32 || vt === f64) B.Store.setValue(e, this.canonicalNaN(B.Store.getValue(e), vt));
        break;
      }
      case B.UnaryId: {
        const op = B.Unary.getOp(e);
        if (op === B.ReinterpretFloat32) B.Unary.setValue(e, this.canonicalNaN(B.Unary.getValue(e), f32));
        else if (op === B.ReinterpretFloat64) B.Unary.setValue(e, this.canonicalNaN(B.Unary.getValue(e), f64));
        break;
      }
      case B.BinaryId: {
        const op = B.Binary.getOp(e);
        if (op === B.CopySignFloat32) B.Binary.setRight(e, this.canonicalNaN(B.Binary.getRight(e), f32));
        else if (op === B.CopySignFloat64) B.Binary.setRight(e, this.canonicalNaN(B.Binary.getRight(e), f64));
        break;
      }
      case B.MemoryGrowId:
        return this.done(this.m.call(growHelper(this.ctx), [B.MemoryGrow.getDelta(e)], i32), reach, height);
      case B.MemoryFillId:
        return this.done(
          this.m.call(bulkHelper(this.ctx, 'fill'), [B.MemoryFill.getDest(e), B.MemoryFill.getValue(e), B.MemoryFill.getSize(e)], B.none),
          reach,
          height,
        );
      case B.MemoryCopyId:
        return this.done(
          this.m.call(bulkHelper(this.ctx, 'copy'), [B.MemoryCopy.getDest(e), B.MemoryCopy.getSource(e), B.MemoryCopy.getSize(e)], B.none),
          reach,
          height,
        );
      case B.MemoryInitId: {
        const helper = bulkHelper(this.ctx, 'init', B.MemoryInit.getSegment(e));
        return this.done(
          this.m.call(helper, [B.MemoryInit.getDest(e), B.MemoryInit.getOffset(e), B.MemoryInit.getSize(e)], B.none),
          reach,
          height,
        );
      }
      default:
        break;
    }
    return this.done(e, reach, height);
  }

  /** Names relaxed SIMD as such when a v128 expression is refused. */
  private refuseTyped(e: number, id: number, why: string): never {
    const relaxed =
      (id === B.UnaryId && RELAXED.unary.has(B.Unary.getOp(e))) ||
      (id === B.BinaryId && RELAXED.binary.has(B.Binary.getOp(e))) ||
      (id === B.SIMDTernaryId && RELAXED.ternary.has(B.SIMDTernary.getOp(e)));
    return refuse(relaxed ? 'relaxed SIMD (results are implementation-defined)' : why, `function ${this.name}`);
  }

  private done(e: number, reach: number, height: number): number {
    this.reach = reach;
    this.height = Math.max(1, height);
    if (this.height > this.maxHeight) this.maxHeight = this.height;
    return e;
  }

  /** Visits one child slot, replacing the child if it was rewritten; returns its reach. */
  private slot(e: number, seg: Segment, get: (e: number) => number, set: (e: number, c: number) => void): number {
    const c = get(e);
    if (!c) {
      this.reach = Number.POSITIVE_INFINITY;
      this.height = 0;
      return this.reach;
    }
    const r = this.visit(c, seg);
    if (r !== c) set(e, r);
    return this.reach;
  }

  private operands(
    e: number,
    seg: Segment,
    n: number,
    get: (e: number, i: number) => number,
    set: (e: number, i: number, c: number) => void,
  ): number {
    let reach = Number.POSITIVE_INFINITY;
    let height = 0;
    for (let i = 0; i < n; i++) {
      const c = get(e, i);
      const r = this.visit(c, seg);
      if (r !== c) set(e, i, r);
      reach = Math.min(reach, this.reach);
      height = Math.max(height, i + this.height);
    }
    return this.done(e, reach, height);
  }

  /** Index of the innermost enclosing label called `name` (binaryen names may shadow). */
  private labelIndex(name: string): number {
    return this.labels.lastIndexOf(name);
  }

  /**
   * A block's list: statements share the block's segment until one may branch out of the list;
   * the statements after it start a segment of their own, charged where they start.
   */
  private block(e: number, seg: Segment): number {
    const name = B.Block.getName(e);
    if (name) this.labels.push(name);
    const bound = this.labels.length;
    const n = B.Block.getNumChildren(e);
    const splits: { at: number; seg: Segment }[] = [];
    let current = seg;
    let reach = Number.POSITIVE_INFINITY;
    let height = 0;
    for (let i = 0; i < n; i++) {
      const c = B.Block.getChildAt(e, i);
      const r = this.visit(c, current);
      if (r !== c) B.Block.setChildAt(e, i, r);
      reach = Math.min(reach, this.reach);
      height = Math.max(height, this.height);
      if (this.reach < bound && i < n - 1) {
        current = { cost: 0 };
        splits.push({ at: i + 1, seg: current });
      }
    }
    if (name) this.labels.pop();
    for (let k = splits.length - 1; k >= 0; k--) {
      const split = splits[k]!;
      if (split.seg.cost > 0) B.Block.insertChildAt(e, split.at, this.charge(split.seg.cost));
    }
    return this.done(e, reach, height);
  }

  /** In a function with the stack-budget check, a return releases the function's frame first. */
  private rewriteReturn(e: number): number {
    if (!this.tracksStack) return e;
    const { m } = this;
    const value = B.Return.getValue(e);
    if (!value) return m.block(null, [this.release(), m.return()]);
    const type = B.Function.getResults(this.func);
    return m.block(null, [m.local.set(this.resultLocal, value), this.release(), m.return(m.local.get(this.resultLocal, type))]);
  }

  /** `value`, with a NaN replaced by the canonical quiet NaN of its type. */
  private canonicalNaN(value: number, type: number): number {
    if (B.getExpressionType(value) === B.unreachable) return value;
    const { m } = this;
    const t = this.scratchLocal(type);
    const nan = type === f32 ? m.f32.reinterpret(m.i32.const(0x7fc00000)) : m.f64.reinterpret(m.i64.const(0x7ff8000000000000n));
    const nanTest =
      type === f32 ? m.f32.ne(m.local.get(t, type), m.local.get(t, type)) : m.f64.ne(m.local.get(t, type), m.local.get(t, type));
    // select evaluates ifTrue, ifFalse, then the condition: the tee runs before the reads.
    return select(m, nanTest, nan, m.local.tee(t, value, type), type);
  }
}
