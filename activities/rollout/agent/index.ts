export * from './loop';
export * from './policy';
export * from './replay-gold';
