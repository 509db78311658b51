/**
 * The versions a Zed (26.x) nova-compute speaks upward, as captured from
 * Debian's python3-nova 26.2.2 (test/fixtures/nova-upward/): the conductor RPC
 * API it calls, the service version it registers, and the object version
 * manifest it sends with every class action (the conductor backports results
 * to these versions, so hostwall reads exactly what a Zed compute would).
 */

import { InvariantError } from '../../../errors';

/** nova.conductor.rpcapi.ConductorAPI's version for object actions. */
export const CONDUCTOR_API_VERSION = '3.0';

/** nova.objects.service.SERVICE_VERSION in Zed. The scheduler and API read it to decide what a host can do. */
export const ZED_SERVICE_VERSION = 64;

/** The binary a compute service registers as; the API and scheduler look services up by it. */
export const COMPUTE_BINARY = 'nova-compute';

/** Object name → version, the union of every manifest a Zed compute sent (they never disagree). */
export const OBJECT_VERSIONS: Readonly<Record<string, string>> = {
  BlockDeviceMapping: '1.21', BlockDeviceMappingList: '1.18', ComputeNode: '1.19', ComputeNodeList: '1.17',
  DeviceBus: '1.0', DeviceMetadata: '1.0', EC2Ids: '1.0', Flavor: '1.2', HVSpec: '1.2', Instance: '2.7',
  InstanceActionEvent: '1.4', InstanceDeviceMetadata: '1.0', InstanceFault: '1.2', InstanceInfoCache: '1.5',
  InstanceList: '2.6', InstanceNUMACell: '1.6', InstanceNUMATopology: '1.3', InstancePCIRequest: '1.4',
  InstancePCIRequests: '1.1', KeyPair: '1.4', KeyPairList: '1.3', Migration: '1.7', MigrationContext: '1.2',
  MigrationList: '1.5', PciDevice: '1.7', PciDeviceList: '1.3', PciDevicePool: '1.1', PciDevicePoolList: '1.1',
  Resource: '1.0', ResourceList: '1.0', ResourceMetadata: '1.0', SecurityGroup: '1.2', SecurityGroupList: '1.1',
  Service: '1.22', ServiceList: '1.19', Tag: '1.1', TagList: '1.1', TrustedCerts: '1.0', VirtCPUFeature: '1.0',
  VirtCPUModel: '1.0', VirtCPUTopology: '1.0', VirtualInterface: '1.3', VirtualInterfaceList: '1.0',
};

export function versionOf(objectName: string): string {
  const v = OBJECT_VERSIONS[objectName];
  if (v === undefined) throw new InvariantError(`no Zed version known for Nova object ${objectName}`);
  return v;
}
