// WASI preview 1 I/O for the renderer: read all of stdin (or a file under a preopened directory),
// write all of a buffer to stdout, and fail with a message on stderr.
//
// The shim's `process.stdout.write` issues one fd_write and ignores short writes; a host that hands
// stdout to a pipe may accept a frame in several pieces, so these helpers loop until every byte is
// through. Only functions of `wasi_snapshot_preview1` are used, and none that reads a clock or the
// host's entropy: the output must depend on the scene and the frame number alone.
import {
  errno,
  errnoToString,
  fd_close,
  fd_prestat_dir_name,
  fd_prestat_get,
  fd_read,
  fd_write,
  lookupflags,
  path_open,
  prestat,
  proc_exit,
  rights,
} from 'bindings/wasi_snapshot_preview1';

/** Exit status for a bad invocation or a bad scene (the runtime's own aborts exit with 255). */
export const EXIT_USAGE: u32 = 2;

/** Scenes are small documents; a cap keeps a runaway input from exhausting memory. */
export const MAX_INPUT_BYTES: i32 = 4 << 20;

// Scratch space for out-parameters: an iovec (8 bytes), a size (4 bytes), a prestat (8 bytes).
const scratch = memory.data(32);

/** Writes `render: <message>` to stderr and exits with EXIT_USAGE. Never returns. */
export function fail(message: string): void {
  writeText(2, 'render: ' + message + '\n');
  proc_exit(EXIT_USAGE);
  unreachable();
}

export function writeText(fd: u32, text: string): void {
  const bytes = String.UTF8.encode(text);
  writeAll(fd, changetype<usize>(bytes), bytes.byteLength);
}

/** Writes `len` bytes at `ptr` to `fd`, looping over short writes. */
export function writeAll(fd: u32, ptr: usize, len: i32): void {
  let done = 0;
  while (done < len) {
    store<usize>(scratch, ptr + <usize>done);
    store<usize>(scratch, <usize>(len - done), 4);
    const err = fd_write(fd, scratch, 1, scratch + 8);
    if (err != errno.SUCCESS) {
      // Reporting a failed write to stderr could itself fail; exit either way.
      if (fd != 2) fail('write to fd ' + fd.toString() + ' failed: ' + errnoToString(err));
      proc_exit(EXIT_USAGE);
    }
    const n = <i32>load<usize>(scratch, 8);
    if (n <= 0) {
      if (fd != 2) fail('write to fd ' + fd.toString() + ' made no progress');
      proc_exit(EXIT_USAGE);
    }
    done += n;
  }
}

/** Reads `fd` to end of file. `what` names the source in error messages. */
export function readAll(fd: u32, what: string): Uint8Array {
  let buf = new Uint8Array(64 << 10);
  let len = 0;
  while (true) {
    if (len == buf.length) {
      if (len >= MAX_INPUT_BYTES) fail(what + ' is larger than ' + MAX_INPUT_BYTES.toString() + ' bytes');
      const bigger = new Uint8Array(min(len * 2, MAX_INPUT_BYTES));
      bigger.set(buf);
      buf = bigger;
    }
    store<usize>(scratch, buf.dataStart + <usize>len);
    store<usize>(scratch, <usize>(buf.length - len), 4);
    const err = fd_read(fd, scratch, 1, scratch + 8);
    if (err != errno.SUCCESS) fail('cannot read ' + what + ': ' + errnoToString(err));
    const n = <i32>load<usize>(scratch, 8);
    if (n == 0) break;
    len += n;
  }
  return buf.subarray(0, len);
}

/**
 * Reads the file at `path` (e.g. `/input/scene.json`). WASI has no ambient filesystem: the path
 * must lie under a directory the host preopened, so find the preopen whose name is the longest
 * prefix of the path and open the rest relative to it.
 */
export function readFileFromPreopen(path: string): Uint8Array {
  let bestFd: i32 = -1;
  let bestRest = '';
  let bestLen = -1;
  // Preopens are numbered from 3 upwards without gaps; the first EBADF ends the list.
  for (let fd: u32 = 3; fd < 1024; fd++) {
    const err = fd_prestat_get(fd, changetype<prestat>(scratch + 16));
    if (err == errno.BADF) break;
    if (err != errno.SUCCESS || load<u8>(scratch + 16) != 0) continue;
    const nameLen = <i32>load<u32>(scratch + 16, 4);
    const nameBuf = new Uint8Array(nameLen);
    if (fd_prestat_dir_name(fd, nameBuf.dataStart, nameLen) != errno.SUCCESS) continue;
    let name = String.UTF8.decodeUnsafe(nameBuf.dataStart, nameLen);
    while (name.length > 1 && name.endsWith('/')) name = name.substring(0, name.length - 1);
    let rest: string | null = null;
    if (name == '/' && path.startsWith('/')) rest = path.substring(1);
    else if (path.startsWith(name + '/')) rest = path.substring(name.length + 1);
    else if (name == '.' && !path.startsWith('/')) rest = path;
    if (rest != null && name.length > bestLen) {
      bestFd = <i32>fd;
      bestRest = rest;
      bestLen = name.length;
    }
  }
  if (bestFd < 0) fail('no preopened directory contains ' + path);
  const rel = String.UTF8.encode(bestRest);
  const err = path_open(
    <u32>bestFd,
    lookupflags.SYMLINK_FOLLOW,
    changetype<usize>(rel),
    rel.byteLength,
    0,
    rights.FD_READ,
    0,
    0,
    scratch + 24,
  );
  if (err != errno.SUCCESS) fail('cannot open ' + path + ': ' + errnoToString(err));
  const fd = load<u32>(scratch + 24);
  const data = readAll(fd, path);
  fd_close(fd);
  return data;
}
