// privacy/: browser-safe DP building blocks. The public surface.
export * from './accountant/index.ts';
export * from './noise/index.ts';
export * from './central/index.ts';
export * from './clipping/index.ts';
