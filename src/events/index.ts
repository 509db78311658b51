export * from './schemas';
export * from './native';
export * from './nova-schemas';
export * from './nova-payload';
export * from './nova-legacy';
export * from './nova-notification';
