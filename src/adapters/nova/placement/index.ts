/** OpenStack Placement for the Nova adapter: settings from `[placement]`, and the client. */
export type { ConsumerAllocations, ProviderAllocations, ProviderRef, ProviderSpec } from './bodies';
export { PlacementClient, type PlacementClientOptions, type PlacementVersions } from './client';
export type { EnsuredProvider, SyncResult } from './provider-sync';
export type { RequestEvent, RequestObserver } from './session';
export { type PlacementIniSettings, PlacementSettings, placementSettingsFromIni } from './settings';
