export * from './kinds';
export * from './registry';
export * from './negotiation';
export * from './states';
export * from './replies';
export * from './fields';
