#!/usr/bin/env node
// Launcher for `groundwork`: the CLI is TypeScript run directly, so register tsx's ESM loader,
// then load the entry point.
import { register } from 'tsx/esm/api';

register();
await import('../src/bin/groundwork.ts');
