// Types for the parts of binaryen.js's API that its index.d.ts (v132) leaves out: the
// per-expression getters and setters (binaryen.Block.getChildAt…), readBinary's feature
// argument, select's type argument and _BinaryenFunctionAddVar. They exist at run time (see
// binaryen.js's README, "Expression manipulation"); only the declarations are missing.
import binaryen from 'binaryen';

type E = number;
type Get = (e: E) => E;
type Set = (e: E, c: E) => void;
type Operands = {
  getNumOperands(e: E): number;
  getOperandAt(e: E, i: number): E;
  setOperandAt(e: E, i: number, c: E): void;
  getOperands(e: E): E[];
};

export type ExpressionApi = {
  Block: {
    getName(e: E): string | null;
    getNumChildren(e: E): number;
    getChildren(e: E): E[];
    getChildAt(e: E, i: number): E;
    setChildAt(e: E, i: number, c: E): void;
    insertChildAt(e: E, i: number, c: E): void;
  };
  If: { getCondition: Get; setCondition: Set; getIfTrue: Get; setIfTrue: Set; getIfFalse: Get; setIfFalse: Set };
  Loop: { getName(e: E): string | null; getBody: Get; setBody: Set };
  Break: { getName(e: E): string; getValue: Get; setValue: Set; getCondition: Get; setCondition: Set };
  Switch: {
    getNames(e: E): string[];
    getDefaultName(e: E): string | null;
    getValue: Get;
    setValue: Set;
    getCondition: Get;
    setCondition: Set;
  };
  Call: Operands & { getTarget(e: E): string; isReturn(e: E): boolean };
  CallIndirect: Operands & { getTarget: Get; setTarget: Set; isReturn(e: E): boolean };
  TupleMake: Operands;
  TupleExtract: { getTuple: Get; setTuple: Set };
  LocalSet: { getValue: Get; setValue: Set };
  GlobalSet: { getValue: Get; setValue: Set };
  Load: { getPtr: Get; setPtr: Set; isAtomic(e: E): boolean };
  Store: { getPtr: Get; setPtr: Set; getValue: Get; setValue: Set; isAtomic(e: E): boolean; getValueType(e: E): number };
  Unary: { getOp(e: E): number; getValue: Get; setValue: Set };
  Binary: { getOp(e: E): number; getLeft: Get; setLeft: Set; getRight: Get; setRight: Set };
  SIMDTernary: { getOp(e: E): number };
  Select: { getIfTrue: Get; setIfTrue: Set; getIfFalse: Get; setIfFalse: Set; getCondition: Get; setCondition: Set };
  Drop: { getValue: Get; setValue: Set };
  Return: { getValue: Get; setValue: Set };
  MemoryGrow: { getDelta: Get; setDelta: Set };
  MemoryInit: { getSegment(e: E): string; getDest: Get; setDest: Set; getOffset: Get; setOffset: Set; getSize: Get; setSize: Set };
  MemoryCopy: { getDest: Get; setDest: Set; getSource: Get; setSource: Set; getSize: Get; setSize: Set };
  MemoryFill: { getDest: Get; setDest: Set; getValue: Get; setValue: Set; getSize: Get; setSize: Set };
  RefIsNull: { getValue: Get; setValue: Set };
  TableGet: { getIndex: Get; setIndex: Set };
  TableSet: { getIndex: Get; setIndex: Set; getValue: Get; setValue: Set };
  Const: { setValueI32(e: E, value: number): void };
  Function: {
    getName(f: number): string;
    getParams(f: number): number;
    getResults(f: number): number;
    getNumVars(f: number): number;
    getVar(f: number, i: number): number;
    getNumLocals(f: number): number;
    getBody(f: number): E;
    setBody(f: number, body: E): void;
  };
  _BinaryenFunctionAddVar(f: number, type: number): number;
  readBinary(bytes: Uint8Array, features?: number): binaryen.Module;
};

/** binaryen with the declarations above. */
export const B = binaryen as unknown as Omit<typeof binaryen, 'readBinary' | 'Function'> & ExpressionApi;

/** Module.select with its optional result type (binaryen.js takes it; the .d.ts does not say so). */
export function select(m: binaryen.Module, condition: E, ifTrue: E, ifFalse: E, type: number): E {
  return (m.select as unknown as (c: E, t: E, f: E, type: number) => E)(condition, ifTrue, ifFalse, type);
}
