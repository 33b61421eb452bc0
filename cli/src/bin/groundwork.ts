// The `groundwork` executable (run with tsx; see ../../bin/groundwork.mjs for the launcher).
import { main } from '../index.ts';

const code = await main(process.argv.slice(2));
// Exit explicitly: open sockets or database handles must not keep a finished command alive.
process.exit(code);
