// Types for build-renderer.mjs, which stays plain JavaScript so the build can run without tsx.
export declare const RENDERER_DIR: string;
export declare const BUILD_DIR: string;
export declare const WASM_PATH: string;

export interface BuildRendererOptions {
  /** Compile even when the recorded source hash matches. */
  force?: boolean;
  /** No progress lines on stderr. */
  quiet?: boolean;
}

export interface BuildRendererResult {
  wasmPath: string;
  /** False when the existing module was current and nothing was compiled. */
  built: boolean;
  /** SHA-256 over the sources, compiler flags and versions. */
  hash: string;
  ms: number;
}

/** The hash the build records beside the module. */
export declare function sourceHash(): Promise<string>;

/** Compiles renderer/*.ts into renderer/build/renderer.wasm unless it is up to date; rejects with the compiler's output on failure. */
export declare function buildRenderer(options?: BuildRendererOptions): Promise<BuildRendererResult>;
