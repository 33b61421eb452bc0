// A minimal WASI preview 1 host with no ambient authority: the task sees its stdin, args and env,
// a read-only /input and a writable /output, all in memory, and nothing of the machine it runs on.
//
// Why not @bjorn3/browser_wasi_shim (0.4.2, the in-memory WASI host on npm): it cannot meet the
// determinism and limit requirements without replacing most of it.
// - Inode numbers come from a process-wide counter (Inode.next_ino), so two runs in one process
//   show the module different st_ino / d_ino values: results could depend on what ran before.
// - Its Filestat writes atim/mtim/ctim at offsets 38/46/52 instead of 40/48/56, overwriting the
//   top bytes of st_size and leaving ctim's top half unwritten.
// - A read-only directory still lets path_open(O_CREAT) create files in it, and a write to a
//   read-only file returns EBADF rather than a clear "read-only" error.
// - Files and console output grow without limit (a memory exhaustion of the host), and there is
//   no hook to cap them.
// - clock_time_get, random_get and poll_oneoff use the real clock and crypto.getRandomValues.
// What it would have saved is ~20 small functions, written here against the WASI p1 spec
// (witx: wasi_snapshot_preview1), each checking its pointers against the memory.
import { createHash } from 'node:crypto';
import { SandboxError } from './errors.ts';
import { HOST_BYTES_PER_UNIT, HOST_CALL_UNITS, type Limits } from './policy.ts';

// errno values (wasi_snapshot_preview1 `errno`).
const SUCCESS = 0;
const BADF = 8;
const EXIST = 20;
const FAULT = 21;
const ILSEQ = 25;
const INVAL = 28;
const ISDIR = 31;
const MFILE = 33;
const NAMETOOLONG = 37;
const NOENT = 44;
const NOTDIR = 54;
const ROFS = 69;
const SPIPE = 70;
const NOTCAPABLE = 76;

// filetype
const FILETYPE_CHARACTER_DEVICE = 2;
const FILETYPE_DIRECTORY = 3;
const FILETYPE_REGULAR_FILE = 4;

// oflags, fdflags, whence
const O_CREAT = 1;
const O_DIRECTORY = 2;
const O_EXCL = 4;
const O_TRUNC = 8;
const FDFLAG_APPEND = 1;
const WHENCE_SET = 0;
const WHENCE_CUR = 1;
const WHENCE_END = 2;

// rights
const R_FD_READ = 1n << 1n;
const R_FD_SEEK = 1n << 2n;
const R_FD_FDSTAT_SET_FLAGS = 1n << 3n;
const R_FD_TELL = 1n << 5n;
const R_FD_WRITE = 1n << 6n;
const R_FD_ALLOCATE = 1n << 8n;
const R_PATH_CREATE_DIRECTORY = 1n << 9n;
const R_PATH_CREATE_FILE = 1n << 10n;
const R_PATH_OPEN = 1n << 13n;
const R_FD_READDIR = 1n << 14n;
const R_PATH_FILESTAT_GET = 1n << 18n;
const R_FD_FILESTAT_GET = 1n << 21n;
const R_FD_FILESTAT_SET_SIZE = 1n << 22n;
/** Rights whose request means "open for writing". */
const WRITE_RIGHTS = R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE;
const FILE_READ_RIGHTS = R_FD_READ | R_FD_SEEK | R_FD_TELL | R_FD_FILESTAT_GET | R_FD_FDSTAT_SET_FLAGS;
const FILE_WRITE_RIGHTS = FILE_READ_RIGHTS | R_FD_WRITE;
const DIR_READ_RIGHTS = R_PATH_OPEN | R_FD_READDIR | R_PATH_FILESTAT_GET | R_FD_FILESTAT_GET;
const DIR_WRITE_RIGHTS = DIR_READ_RIGHTS | R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE;

const MAX_FDS = 1024;
/** 2024-01-01T00:00:00Z in ns: the start of the task's clock before the seed's offset. */
const CLOCK_EPOCH_NS = 1_704_067_200_000_000_000n;
const CLOCK_STEP_NS = 1000n;

type FileNode = { kind: 'file'; ino: bigint; data: Uint8Array; size: number; readonly: boolean };
type DirNode = { kind: 'dir'; ino: bigint; entries: Map<string, Node>; parent: DirNode | null; readonly: boolean };
type Node = FileNode | DirNode;

type Fd =
  | { kind: 'stdin'; pos: number }
  | { kind: 'sink'; sink: Sink }
  | { kind: 'file'; node: FileNode; pos: number; readable: boolean; writable: boolean; append: boolean }
  | { kind: 'dir'; node: DirNode; preopen: string | null };

/** proc_exit: unwinds the module's stack back to the runner. */
export class ProcExit {
  constructor(readonly code: number) {}
}

/** A host call ran the fuel out (the runner reports 'fuel-exhausted'). */
export class HostFuelExhausted {}

/** Captured stdout or stderr, with its cap. */
class Sink {
  private readonly chunks: Uint8Array[] = [];
  size = 0;
  constructor(
    readonly name: string,
    private readonly cap: number,
  ) {}

  write(bytes: Uint8Array): void {
    if (this.size + bytes.length > this.cap)
      throw new SandboxError(
        'output-too-large',
        `${this.name} is over its cap of ${this.cap} bytes (the task wrote ${this.size + bytes.length})`,
      );
    this.chunks.push(bytes.slice());
    this.size += bytes.length;
  }

  /** A fresh buffer of its own (not a slice of Node's pool), so the worker can transfer it. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Orders names by their UTF-8 bytes: the order of directory listings and of the output encoding. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Checks a task-supplied relative path ('data/in.txt'): non-empty components, no '.', '..', NUL
 * or leading '/'. Returns its components.
 */
export function splitTaskPath(path: string, what: string): string[] {
  const parts = path.split('/');
  if (path.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0')))
    throw new SandboxError('invalid-task', `${what} path ${JSON.stringify(path)} must be relative, with no empty, '.' or '..' components`);
  return parts;
}

export type WasiOptions = {
  /** argv, argv[0] included. */
  args: readonly string[];
  /** Environment variables, in the order the module sees them. */
  env: readonly (readonly [string, string])[];
  stdin: Uint8Array;
  /** Files of /input, by path relative to it. */
  inputs: readonly (readonly [string, Uint8Array])[];
  seed: string;
  limits: Pick<Limits, 'outputBytes' | 'outputFiles' | 'stdoutBytes' | 'stderrBytes'>;
  /** Charges host work (HOST_CALL_UNITS per call and 1 per HOST_BYTES_PER_UNIT bytes); throws when the fuel runs out. */
  charge: (units: number) => void;
};

type Mem = { view: DataView; bytes: Uint8Array };

/** One run's WASI state. */
export class WasiHost {
  /** Set by the runner once the instance exists (WASI reads the exported memory). */
  memory: WebAssembly.Memory | null = null;
  private readonly fds: (Fd | undefined)[] = [];
  private readonly stdout: Sink;
  private readonly stderr: Sink;
  private readonly outputRoot: DirNode;
  private readonly stdinBytes: Uint8Array;
  private readonly argBytes: Uint8Array[];
  private readonly envBytes: Uint8Array[];
  private nextIno = 1n;
  private outputSize = 0;
  private outputEntries = 0;
  private clockTicks = 0n;
  private readonly clockBase: bigint;
  private readonly randomKey: Buffer;
  private randomCounter = 0n;
  private randomPool: Uint8Array = new Uint8Array(0);
  private readonly limits: WasiOptions['limits'];
  private readonly charge: (units: number) => void;

  constructor(options: WasiOptions) {
    this.limits = options.limits;
    this.charge = options.charge;
    this.stdinBytes = options.stdin;
    const encoder = new TextEncoder();
    for (const a of options.args) if (a.includes('\0')) throw new SandboxError('invalid-task', 'an argument contains a NUL byte');
    for (const [k, v] of options.env)
      if (k.length === 0 || k.includes('=') || k.includes('\0') || v.includes('\0'))
        throw new SandboxError(
          'invalid-task',
          `environment variable ${JSON.stringify(k)}: names must be non-empty without '=' or NUL, values without NUL`,
        );
    this.argBytes = options.args.map((a) => encoder.encode(`${a}\0`));
    this.envBytes = options.env.map(([k, v]) => encoder.encode(`${k}=${v}\0`));
    this.stdout = new Sink('stdout', options.limits.stdoutBytes);
    this.stderr = new Sink('stderr', options.limits.stderrBytes);
    const inputRoot = this.buildInputs(options.inputs);
    this.outputRoot = { kind: 'dir', ino: this.ino(), entries: new Map(), parent: null, readonly: false };
    this.fds[0] = { kind: 'stdin', pos: 0 };
    this.fds[1] = { kind: 'sink', sink: this.stdout };
    this.fds[2] = { kind: 'sink', sink: this.stderr };
    this.fds[3] = { kind: 'dir', node: inputRoot, preopen: '/input' };
    this.fds[4] = { kind: 'dir', node: this.outputRoot, preopen: '/output' };
    const seedHash = (label: string) =>
      createHash('sha256').update(`groundwork.compute.${label}.v1\0`).update(options.seed, 'utf8').digest();
    // A start time within ~71 minutes after the epoch, fixed by the seed.
    this.clockBase = CLOCK_EPOCH_NS + BigInt(seedHash('clock').readUInt32BE(0)) * CLOCK_STEP_NS;
    this.randomKey = seedHash('random');
  }

  /** Inode numbers count up from 1 in a fixed order (inputs sorted, then creation order). */
  private ino(): bigint {
    return this.nextIno++;
  }

  private buildInputs(inputs: WasiOptions['inputs']): DirNode {
    const root: DirNode = { kind: 'dir', ino: this.ino(), entries: new Map(), parent: null, readonly: true };
    const sorted = [...inputs].sort(([a], [b]) => compareUtf8(a, b));
    for (const [path, data] of sorted) {
      const parts = splitTaskPath(path, 'input');
      let dir = root;
      for (const part of parts.slice(0, -1)) {
        let next = dir.entries.get(part);
        if (!next) {
          next = { kind: 'dir', ino: this.ino(), entries: new Map(), parent: dir, readonly: true };
          dir.entries.set(part, next);
        }
        if (next.kind !== 'dir') throw new SandboxError('invalid-task', `input path ${JSON.stringify(path)} goes through the file ${part}`);
        dir = next;
      }
      const name = parts.at(-1)!;
      if (dir.entries.has(name))
        throw new SandboxError('invalid-task', `input path ${JSON.stringify(path)} is given twice or is also a directory`);
      dir.entries.set(name, { kind: 'file', ino: this.ino(), data, size: data.length, readonly: true });
    }
    return root;
  }

  /** What the run left: stdout, stderr and the files under /output (paths relative to it, sorted). */
  collect(): { stdout: Uint8Array; stderr: Uint8Array; outputs: Map<string, Uint8Array> } {
    const outputs = new Map<string, Uint8Array>();
    const walk = (dir: DirNode, prefix: string) => {
      for (const name of [...dir.entries.keys()].sort(compareUtf8)) {
        const node = dir.entries.get(name)!;
        if (node.kind === 'dir') walk(node, `${prefix}${name}/`);
        else outputs.set(`${prefix}${name}`, node.data.slice(0, node.size));
      }
    };
    walk(this.outputRoot, '');
    return { stdout: this.stdout.bytes(), stderr: this.stderr.bytes(), outputs };
  }

  /** The import object's wasi_snapshot_preview1 functions. */
  imports(): Record<string, (...args: unknown[]) => number> {
    const fns: Record<string, (...args: never[]) => number> = {
      args_sizes_get: (countPtr: number, sizePtr: number) => this.sizes(this.argBytes, countPtr, sizePtr),
      args_get: (argv: number, buf: number) => this.strings(this.argBytes, argv, buf),
      environ_sizes_get: (countPtr: number, sizePtr: number) => this.sizes(this.envBytes, countPtr, sizePtr),
      environ_get: (environ: number, buf: number) => this.strings(this.envBytes, environ, buf),
      clock_res_get: (id: number, ptr: number) => this.clockRes(id, ptr),
      clock_time_get: (id: number, _precision: bigint, ptr: number) => this.clockTime(id, ptr),
      random_get: (ptr: number, len: number) => this.random(ptr, len),
      fd_read: (fd: number, iovs: number, n: number, nreadPtr: number) => this.fdRead(fd, iovs, n, nreadPtr),
      fd_write: (fd: number, iovs: number, n: number, nwrittenPtr: number) => this.fdWrite(fd, iovs, n, nwrittenPtr),
      fd_close: (fd: number) => this.fdClose(fd),
      fd_seek: (fd: number, offset: bigint, whence: number, ptr: number) => this.fdSeek(fd, offset, whence, ptr),
      fd_tell: (fd: number, ptr: number) => this.fdSeek(fd, 0n, WHENCE_CUR, ptr, true),
      fd_fdstat_get: (fd: number, ptr: number) => this.fdFdstatGet(fd, ptr),
      fd_fdstat_set_flags: (fd: number, flags: number) => this.fdFdstatSetFlags(fd, flags),
      fd_filestat_get: (fd: number, ptr: number) => this.fdFilestatGet(fd, ptr),
      fd_prestat_get: (fd: number, ptr: number) => this.fdPrestatGet(fd, ptr),
      fd_prestat_dir_name: (fd: number, ptr: number, len: number) => this.fdPrestatDirName(fd, ptr, len),
      fd_readdir: (fd: number, buf: number, len: number, cookie: bigint, usedPtr: number) => this.fdReaddir(fd, buf, len, cookie, usedPtr),
      path_open: (
        fd: number,
        _dirflags: number,
        pathPtr: number,
        pathLen: number,
        oflags: number,
        rightsBase: bigint,
        _rightsInheriting: bigint,
        fdflags: number,
        fdPtr: number,
      ) => this.pathOpen(fd, pathPtr, pathLen, oflags, rightsBase, fdflags, fdPtr),
      path_filestat_get: (fd: number, _flags: number, pathPtr: number, pathLen: number, ptr: number) =>
        this.pathFilestatGet(fd, pathPtr, pathLen, ptr),
      path_create_directory: (fd: number, pathPtr: number, pathLen: number) => this.pathCreateDirectory(fd, pathPtr, pathLen),
      proc_exit: (code: number) => {
        throw new ProcExit(code >>> 0);
      },
      sched_yield: () => SUCCESS,
    };
    const wrapped: Record<string, (...args: unknown[]) => number> = {};
    for (const [name, fn] of Object.entries(fns)) {
      const call = fn as (...args: unknown[]) => number;
      wrapped[name] = (...args: unknown[]) => {
        this.charge(HOST_CALL_UNITS);
        try {
          return call(...args);
        } catch (err) {
          // A pointer outside the memory: the module gets EFAULT, as from a kernel.
          if (err instanceof RangeError || err instanceof Fault) return FAULT;
          throw err;
        }
      };
    }
    return wrapped;
  }

  private mem(): Mem {
    const buffer = this.memory!.buffer;
    return { view: new DataView(buffer), bytes: new Uint8Array(buffer) };
  }

  /** `len` bytes of memory at `ptr` (both u32), checked: a view, not a copy. */
  private range(m: Mem, ptr: number, len: number): Uint8Array {
    const start = ptr >>> 0;
    const length = len >>> 0;
    if (start + length > m.bytes.length) throw new Fault();
    return m.bytes.subarray(start, start + length);
  }

  private chargeBytes(n: number): void {
    if (n >= HOST_BYTES_PER_UNIT) this.charge(Math.floor(n / HOST_BYTES_PER_UNIT));
  }

  private readPath(m: Mem, ptr: number, len: number): string | number {
    const raw = this.range(m, ptr, len);
    this.chargeBytes(raw.length);
    try {
      const path = new TextDecoder('utf-8', { fatal: true }).decode(raw);
      return path.includes('\0') ? INVAL : path;
    } catch {
      return ILSEQ;
    }
  }

  private sizes(list: Uint8Array[], countPtr: number, sizePtr: number): number {
    const m = this.mem();
    m.view.setUint32(countPtr >>> 0, list.length, true);
    m.view.setUint32(
      sizePtr >>> 0,
      list.reduce((n, s) => n + s.length, 0),
      true,
    );
    return SUCCESS;
  }

  private strings(list: Uint8Array[], ptrs: number, buf: number): number {
    const m = this.mem();
    let p = ptrs >>> 0;
    let b = buf >>> 0;
    for (const s of list) {
      m.view.setUint32(p, b, true);
      this.range(m, b, s.length).set(s);
      this.chargeBytes(s.length);
      p += 4;
      b += s.length;
    }
    return SUCCESS;
  }

  private clockRes(id: number, ptr: number): number {
    if (id < 0 || id > 3) return INVAL;
    this.mem().view.setBigUint64(ptr >>> 0, CLOCK_STEP_NS, true);
    return SUCCESS;
  }

  /** The task's clock: every read advances it 1 µs; realtime starts at the seed's instant, the others at 0. */
  private clockTime(id: number, ptr: number): number {
    if (id < 0 || id > 3) return INVAL;
    this.clockTicks += 1n;
    const elapsed = this.clockTicks * CLOCK_STEP_NS;
    this.mem().view.setBigUint64(ptr >>> 0, id === 0 ? this.clockBase + elapsed : elapsed, true);
    return SUCCESS;
  }

  /** SHA-256 in counter mode over the seed's key: block i = sha256(key || u64be(i)), as one stream. */
  private random(ptr: number, len: number): number {
    const m = this.mem();
    const out = this.range(m, ptr, len);
    this.chargeBytes(out.length);
    let filled = 0;
    while (filled < out.length) {
      if (this.randomPool.length === 0) {
        const counter = Buffer.alloc(8);
        counter.writeBigUInt64BE(this.randomCounter++);
        this.randomPool = createHash('sha256').update(this.randomKey).update(counter).digest();
      }
      const take = Math.min(this.randomPool.length, out.length - filled);
      out.set(this.randomPool.subarray(0, take), filled);
      this.randomPool = this.randomPool.subarray(take);
      filled += take;
    }
    return SUCCESS;
  }

  private iovecs(m: Mem, iovs: number, count: number): Uint8Array[] {
    const list: Uint8Array[] = [];
    for (let i = 0; i < count >>> 0; i++) {
      const at = (iovs >>> 0) + 8 * i;
      list.push(this.range(m, m.view.getUint32(at, true), m.view.getUint32(at + 4, true)));
    }
    return list;
  }

  private fdRead(fd: number, iovs: number, count: number, nreadPtr: number): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    const m = this.mem();
    const buffers = this.iovecs(m, iovs, count);
    let source: Uint8Array;
    let pos: number;
    if (entry.kind === 'stdin') {
      source = this.stdinBytes;
      pos = entry.pos;
    } else if (entry.kind === 'file') {
      if (!entry.readable) return BADF;
      source = entry.node.data.subarray(0, entry.node.size);
      pos = entry.pos;
    } else return entry.kind === 'dir' ? ISDIR : BADF;
    let total = 0;
    for (const buf of buffers) {
      const n = Math.max(0, Math.min(buf.length, source.length - pos));
      buf.set(source.subarray(pos, pos + n));
      pos += n;
      total += n;
      if (n < buf.length) break;
    }
    entry.pos = pos;
    this.chargeBytes(total);
    m.view.setUint32(nreadPtr >>> 0, total, true);
    return SUCCESS;
  }

  private fdWrite(fd: number, iovs: number, count: number, nwrittenPtr: number): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    const m = this.mem();
    const buffers = this.iovecs(m, iovs, count);
    const total = buffers.reduce((n, b) => n + b.length, 0);
    this.chargeBytes(total);
    if (entry.kind === 'sink') {
      for (const buf of buffers) entry.sink.write(buf);
    } else if (entry.kind === 'file') {
      if (!entry.writable) return BADF;
      const node = entry.node;
      if (entry.append) entry.pos = node.size;
      this.resize(node, Math.max(node.size, entry.pos + total));
      for (const buf of buffers) {
        node.data.set(buf, entry.pos);
        entry.pos += buf.length;
      }
    } else return entry.kind === 'dir' ? ISDIR : BADF;
    m.view.setUint32(nwrittenPtr >>> 0, total, true);
    return SUCCESS;
  }

  /** Sets an /output file's size (zero-filling growth), within the output cap. */
  private resize(node: FileNode, size: number): void {
    if (size === node.size) return;
    const total = this.outputSize - node.size + size;
    if (total > this.limits.outputBytes)
      throw new SandboxError('output-too-large', `/output is over its cap of ${this.limits.outputBytes} bytes (the task wrote ${total})`);
    if (size > node.data.length) {
      const grown = new Uint8Array(Math.max(size, Math.min(node.data.length * 2, this.limits.outputBytes)));
      grown.set(node.data.subarray(0, node.size));
      node.data = grown;
    } else if (size > node.size) node.data.fill(0, node.size, size);
    node.size = size;
    this.outputSize = total;
  }

  private fdClose(fd: number): number {
    if (!this.fds[fd]) return BADF;
    this.fds[fd] = undefined;
    return SUCCESS;
  }

  private fdSeek(fd: number, offset: bigint, whence: number, ptr: number, tellOnly = false): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    if (entry.kind === 'stdin' || entry.kind === 'sink') return SPIPE;
    if (entry.kind === 'dir') return BADF;
    let base: bigint;
    if (whence === WHENCE_SET) base = 0n;
    else if (whence === WHENCE_CUR) base = BigInt(entry.pos);
    else if (whence === WHENCE_END) base = BigInt(entry.node.size);
    else return INVAL;
    const next = base + offset;
    if (next < 0n || next > BigInt(Number.MAX_SAFE_INTEGER)) return INVAL;
    if (!tellOnly) entry.pos = Number(next);
    this.mem().view.setBigUint64(ptr >>> 0, next, true);
    return SUCCESS;
  }

  private fdFdstatGet(fd: number, ptr: number): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    let filetype: number;
    let flags = 0;
    let base: bigint;
    let inheriting = 0n;
    if (entry.kind === 'stdin') [filetype, base] = [FILETYPE_CHARACTER_DEVICE, R_FD_READ | R_FD_FILESTAT_GET];
    else if (entry.kind === 'sink') [filetype, base] = [FILETYPE_CHARACTER_DEVICE, R_FD_WRITE | R_FD_FILESTAT_GET];
    else if (entry.kind === 'file') {
      filetype = FILETYPE_REGULAR_FILE;
      base = entry.writable ? FILE_WRITE_RIGHTS : FILE_READ_RIGHTS;
      if (entry.append) flags |= FDFLAG_APPEND;
    } else {
      filetype = FILETYPE_DIRECTORY;
      base = entry.node.readonly ? DIR_READ_RIGHTS : DIR_WRITE_RIGHTS;
      inheriting = entry.node.readonly ? DIR_READ_RIGHTS | FILE_READ_RIGHTS : DIR_WRITE_RIGHTS | FILE_WRITE_RIGHTS;
    }
    const m = this.mem();
    const at = ptr >>> 0;
    this.range(m, at, 24).fill(0);
    m.view.setUint8(at, filetype);
    m.view.setUint16(at + 2, flags, true);
    m.view.setBigUint64(at + 8, base, true);
    m.view.setBigUint64(at + 16, inheriting, true);
    return SUCCESS;
  }

  private fdFdstatSetFlags(fd: number, flags: number): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    if (entry.kind === 'file') entry.append = (flags & FDFLAG_APPEND) !== 0;
    // The other flags (nonblock, the sync ones) mean nothing for in-memory files: accepted.
    return SUCCESS;
  }

  /** filestat: dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24, size u64 @32, atim/mtim/ctim u64 @40/48/56. */
  private writeFilestat(ptr: number, ino: bigint, filetype: number, size: number): number {
    const m = this.mem();
    const at = ptr >>> 0;
    this.range(m, at, 64).fill(0);
    m.view.setBigUint64(at + 8, ino, true);
    m.view.setUint8(at + 16, filetype);
    m.view.setBigUint64(at + 24, 1n, true);
    m.view.setBigUint64(at + 32, BigInt(size), true);
    // Timestamps stay 0: a file's times would be the only clock a task without one could read.
    return SUCCESS;
  }

  private nodeStat(ptr: number, node: Node): number {
    return node.kind === 'dir'
      ? this.writeFilestat(ptr, node.ino, FILETYPE_DIRECTORY, 0)
      : this.writeFilestat(ptr, node.ino, FILETYPE_REGULAR_FILE, node.size);
  }

  private fdFilestatGet(fd: number, ptr: number): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    if (entry.kind === 'stdin') return this.writeFilestat(ptr, 0n, FILETYPE_CHARACTER_DEVICE, 0);
    if (entry.kind === 'sink') return this.writeFilestat(ptr, 0n, FILETYPE_CHARACTER_DEVICE, 0);
    return this.nodeStat(ptr, entry.node);
  }

  private fdPrestatGet(fd: number, ptr: number): number {
    const entry = this.fds[fd];
    if (entry?.kind !== 'dir' || entry.preopen === null) return BADF;
    const m = this.mem();
    const at = ptr >>> 0;
    this.range(m, at, 8).fill(0);
    m.view.setUint8(at, 0); // preopentype: dir
    m.view.setUint32(at + 4, Buffer.byteLength(entry.preopen), true);
    return SUCCESS;
  }

  private fdPrestatDirName(fd: number, ptr: number, len: number): number {
    const entry = this.fds[fd];
    if (entry?.kind !== 'dir' || entry.preopen === null) return BADF;
    const name = Buffer.from(entry.preopen);
    if (len >>> 0 < name.length) return NAMETOOLONG;
    this.range(this.mem(), ptr, name.length).set(name);
    return SUCCESS;
  }

  /**
   * dirents (d_next u64, d_ino u64, d_namlen u32, d_type u8; 24 bytes, then the name) from the
   * cookie on: '.', '..', then the entries in UTF-8 order. As in the spec, a buffer filled to
   * the byte means there may be more (the last entry may be cut off).
   */
  private fdReaddir(fd: number, buf: number, len: number, cookie: bigint, usedPtr: number): number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    if (entry.kind !== 'dir') return NOTDIR;
    const dir = entry.node;
    const names = [...dir.entries.keys()].sort(compareUtf8);
    const listing: [string, bigint, number][] = [
      ['.', dir.ino, FILETYPE_DIRECTORY],
      ['..', (dir.parent ?? dir).ino, FILETYPE_DIRECTORY],
      ...names.map((name): [string, bigint, number] => {
        const node = dir.entries.get(name)!;
        return [name, node.ino, node.kind === 'dir' ? FILETYPE_DIRECTORY : FILETYPE_REGULAR_FILE];
      }),
    ];
    const capacity = len >>> 0;
    const out = Buffer.alloc(capacity);
    let used = 0;
    const start = BigInt.asUintN(64, cookie);
    for (let i = start; i < BigInt(listing.length) && used < capacity; i++) {
      const [name, ino, type] = listing[Number(i)]!;
      const nameBytes = Buffer.from(name);
      const record = Buffer.alloc(24 + nameBytes.length);
      record.writeBigUInt64LE(i + 1n, 0);
      record.writeBigUInt64LE(ino, 8);
      record.writeUInt32LE(nameBytes.length, 16);
      record.writeUInt8(type, 20);
      nameBytes.copy(record, 24);
      used += record.copy(out, used, 0, Math.min(record.length, capacity - used));
    }
    const m = this.mem();
    this.range(m, buf, used).set(out.subarray(0, used));
    this.chargeBytes(used);
    m.view.setUint32(usedPtr >>> 0, used, true);
    return SUCCESS;
  }

  /**
   * Resolves `path` under a directory fd, lexically ('..' may not climb above the preopen: the
   * capability model). Returns the parent directory and the last component (null when the path
   * names the directory itself), or an errno.
   */
  private resolve(fd: number, path: string): { parent: DirNode; name: string | null; node: Node | undefined; dirOnly: boolean } | number {
    const entry = this.fds[fd];
    if (!entry) return BADF;
    if (entry.kind !== 'dir') return NOTDIR;
    if (path.startsWith('/')) return NOTCAPABLE;
    if (path === '') return NOENT;
    const dirOnly = path.endsWith('/');
    const stack: DirNode[] = [entry.node];
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    let name: string | null = null;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      if (part === '..') {
        if (stack.length === 1) return NOTCAPABLE;
        stack.pop();
        continue;
      }
      if (last) {
        name = part;
        break;
      }
      const next = stack.at(-1)!.entries.get(part);
      if (!next) return NOENT;
      if (next.kind !== 'dir') return NOTDIR;
      stack.push(next);
    }
    const parent = stack.at(-1)!;
    return { parent, name, node: name === null ? parent : parent.entries.get(name), dirOnly };
  }

  private newFd(entry: Fd): number {
    for (let fd = 0; fd < MAX_FDS; fd++) {
      if (!this.fds[fd]) {
        this.fds[fd] = entry;
        return fd;
      }
    }
    return -1;
  }

  private countOutputEntry(): void {
    if (++this.outputEntries > this.limits.outputFiles)
      throw new SandboxError('output-too-large', `/output is over its cap of ${this.limits.outputFiles} files and directories`);
  }

  /**
   * Opens a file or directory. Under /input anything that would write (O_CREAT, O_TRUNC, write
   * rights, append) gets EROFS, the "read-only file system" errno, so the module's error says
   * what happened; reads work as usual.
   */
  private pathOpen(
    fd: number,
    pathPtr: number,
    pathLen: number,
    oflags: number,
    rightsBase: bigint,
    fdflags: number,
    fdPtr: number,
  ): number {
    const m = this.mem();
    const path = this.readPath(m, pathPtr, pathLen);
    if (typeof path === 'number') return path;
    const r = this.resolve(fd, path);
    if (typeof r === 'number') return r;
    const wantsWrite = (BigInt.asUintN(64, rightsBase) & WRITE_RIGHTS) !== 0n || (fdflags & FDFLAG_APPEND) !== 0;
    const creates = (oflags & O_CREAT) !== 0;
    const truncates = (oflags & O_TRUNC) !== 0;
    let node = r.node;
    if (node && creates && (oflags & O_EXCL) !== 0) return EXIST;
    if (r.parent.readonly && (wantsWrite || truncates || (creates && !node))) return ROFS;
    if (!node) {
      if (!creates || r.name === null) return NOENT;
      if ((oflags & O_DIRECTORY) !== 0 || r.dirOnly) return NOENT;
      if (this.fds.filter(Boolean).length >= MAX_FDS) return MFILE;
      this.countOutputEntry();
      node = { kind: 'file', ino: this.ino(), data: new Uint8Array(0), size: 0, readonly: false };
      r.parent.entries.set(r.name, node);
    }
    let entry: Fd;
    if (node.kind === 'dir') {
      if (wantsWrite || truncates) return ISDIR;
      entry = { kind: 'dir', node, preopen: null };
    } else {
      if ((oflags & O_DIRECTORY) !== 0 || r.dirOnly) return NOTDIR;
      if (node.readonly && (wantsWrite || truncates)) return ROFS;
      if (truncates) this.resize(node, 0);
      const readable = (BigInt.asUintN(64, rightsBase) & R_FD_READ) !== 0n || !wantsWrite;
      entry = { kind: 'file', node, pos: 0, readable, writable: wantsWrite, append: (fdflags & FDFLAG_APPEND) !== 0 };
    }
    const newFd = this.newFd(entry);
    if (newFd < 0) return MFILE;
    m.view.setUint32(fdPtr >>> 0, newFd, true);
    return SUCCESS;
  }

  private pathFilestatGet(fd: number, pathPtr: number, pathLen: number, ptr: number): number {
    const path = this.readPath(this.mem(), pathPtr, pathLen);
    if (typeof path === 'number') return path;
    const r = this.resolve(fd, path);
    if (typeof r === 'number') return r;
    if (!r.node) return NOENT;
    if (r.dirOnly && r.node.kind !== 'dir') return NOTDIR;
    return this.nodeStat(ptr, r.node);
  }

  private pathCreateDirectory(fd: number, pathPtr: number, pathLen: number): number {
    const path = this.readPath(this.mem(), pathPtr, pathLen);
    if (typeof path === 'number') return path;
    const r = this.resolve(fd, path);
    if (typeof r === 'number') return r;
    if (r.parent.readonly) return ROFS;
    if (r.node || r.name === null) return EXIST;
    this.countOutputEntry();
    r.parent.entries.set(r.name, { kind: 'dir', ino: this.ino(), entries: new Map(), parent: r.parent, readonly: false });
    return SUCCESS;
  }
}

/** A guest pointer outside its memory (the call returns EFAULT). */
class Fault {}
