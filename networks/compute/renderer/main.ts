// Entry point of the renderer, a WASI preview 1 command:
//
//   render [--frame N] [--scene PATH] < scene.json > frame.gwimg
//
// The scene is read from stdin, or from PATH under a preopened directory (e.g. /input/scene.json).
// The frame (1-based, default 1) is rendered and written to stdout as a GWIMG1 image (README.md).
// Errors go to stderr as `render: ...` with exit status 2.
import { fail, readAll, readFileFromPreopen, writeAll, writeText } from './io';
import { parseJson } from './json';
import { readScene } from './scene';
import { animate, render } from './tracer';

const USAGE = 'usage: render [--frame N] [--scene PATH] < scene.json > frame.gwimg';

/** The GWIMG1 header: the magic `GWIMG1`, then width and height as little-endian u32. */
const HEADER_BYTES = 14;

function parseFrame(text: string): i32 {
  if (text.length == 0 || text.length > 9) fail('--frame: expected a positive integer, got "' + text + '"');
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) fail('--frame: expected a positive integer, got "' + text + '"');
    n = n * 10 + (c - 0x30);
  }
  if (n < 1) fail('--frame: must be at least 1, got ' + n.toString());
  return n;
}

function main(): void {
  const args = process.argv;
  let frame = 1;
  let scenePath: string | null = null;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a == '--help' || a == '-h') {
      writeText(1, USAGE + '\n');
      return;
    }
    if ((a == '--frame' || a == '--scene') && i + 1 < args.length) {
      const value = args[++i];
      if (a == '--frame') frame = parseFrame(value);
      else scenePath = value;
    } else if (a.startsWith('--frame=')) frame = parseFrame(a.substring(8));
    else if (a.startsWith('--scene=')) scenePath = a.substring(8);
    else fail('unexpected argument "' + a + '"\n' + USAGE);
  }

  const path = scenePath;
  const input = path != null ? readFileFromPreopen(path) : readAll(0, 'stdin');
  if (input.length == 0) fail(path != null ? path + ' is empty' : 'no scene given (stdin is empty)\n' + USAGE);
  const scene = readScene(parseJson(input, path != null ? path : 'scene'));
  if (frame > scene.frames)
    fail('--frame: ' + frame.toString() + ' is past the last frame (scene.frames = ' + scene.frames.toString() + ')');

  animate(scene, frame);
  const pixelBytes = scene.width * scene.height * 3;
  const out = new Uint8Array(HEADER_BYTES + pixelBytes);
  const magic = 'GWIMG1';
  for (let i = 0; i < 6; i++) out[i] = <u8>magic.charCodeAt(i);
  store<u32>(out.dataStart, <u32>scene.width, 6);
  store<u32>(out.dataStart, <u32>scene.height, 10);
  render(scene, frame, out.subarray(HEADER_BYTES));
  writeAll(1, out.dataStart, out.length);
}

main();
