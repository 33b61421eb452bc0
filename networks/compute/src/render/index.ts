// The demo workload's host side: scene validation, the renderer module and its raw image format.
export * from './image.ts';
export * from './renderer.ts';
export * from './scene.ts';
export * from './job.ts';
