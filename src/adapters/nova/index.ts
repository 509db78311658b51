/** Nova compute RPC → hostwall intents. */
export { adaptNovaRequest, isNovaMethodSupported, NOVA_METHODS } from './adapter';
export { type NovaLookups, type PortBinding, portFromVif, resolvePort } from './facts';
export { DEFAULT_INSTANCE_NAME_TEMPLATE, instanceName } from './instance-name';
export * from './objects';
export { BDM_VERSION, reservedBdmPrimitive, vifModel } from './replies';
export { checkNovaRpcVersion, NOVA_COMPUTE_RPC_SERVED } from './rpc-version';
export type { NovaAdapted, NovaRequest } from './translation';
