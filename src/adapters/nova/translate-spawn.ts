/**
 * build_and_run_instance → instance.spawn.
 *
 * Where each spawn field comes from:
 * - name: Nova's Instance.name (instance_name_template of the DB id), which is
 *   also what nova-compute names the libvirt domain.
 * - flavor: instance.flavor (what nova-compute uses), else the RequestSpec's,
 *   else a pre-3.36 filter_properties.instance_type, else the instance's legacy
 *   vcpus/memory_mb/root_gb.
 * - image: instance.image_ref (what the libvirt driver fetches), else the
 *   API's image dict id, else RequestSpec.image.id; none when a volume is the
 *   boot device (boot_index 0).
 * - ports: one per requested port id, with the binding facts hostwall knows
 *   (facts.ts). A request for a network without a port, or "auto", is refused:
 *   nova-compute would create the port in Neutron, hostwall does not.
 * - volumes: the volume BDMs in boot order, each with a connection_info that
 *   Nova does not send (facts.ts).
 * - wait_for_ports: Nova's rule (libvirt driver _get_neutron_events): wait for
 *   network-vif-plugged on every port that is not known ACTIVE, except
 *   remote-managed ones. At build time Nova has just bound its ports, so they are
 *   never active yet and Nova always waits; a port hostwall knows to be active
 *   produces no event, so waiting for it would only time out.
 */
import type { ConnectionInfo, Flavor as IntentFlavor, SpawnArgs } from '../../intents';
import { type NovaLookups, type PortBinding, resolveConnectionInfo, resolvePort } from './facts';
import { instanceName } from './instance-name';
import { type BuildAndRunInstanceArgs, BuildAndRunInstanceArgs as BuildArgsSchema } from './method-args';
import { decodeNova, type NovaConnectionInfo } from './objects';
import { adapted, intent, type NovaAdapted, refuse, type Translation } from './translation';

type Resolver<T> = (reason: string) => T;
type VolumeRef = NonNullable<SpawnArgs['volumes']>[number];

function pickFlavor(args: BuildAndRunInstanceArgs): IntentFlavor | undefined {
  const fl = args.instance.data.flavor ?? args.request_spec?.data.flavor ?? args.filter_properties?.instance_type;
  if (fl) return { vcpus: fl.data.vcpus, memory_mb: fl.data.memory_mb, root_gb: fl.data.root_gb };
  const { vcpus, memory_mb, root_gb } = args.instance.data;
  if (typeof vcpus === 'number' && typeof memory_mb === 'number' && typeof root_gb === 'number') return { vcpus, memory_mb, root_gb };
  return undefined;
}

/** Nova's libvirt driver fetches the root disk from instance.image_ref; a boot volume (boot_index 0) means no image. */
function pickImageId(args: BuildAndRunInstanceArgs): string | undefined {
  const bootVolume = (args.block_device_mapping?.data.objects ?? []).some((b) => b.data.destination_type === 'volume' && b.data.boot_index === 0);
  if (bootVolume) return undefined;
  return args.instance.data.image_ref || args.image?.id || args.request_spec?.data.image?.data.id || undefined;
}

/** The part of Nova's connection_info the intent carries (its other keys are Nova's and Cinder's bookkeeping). */
export function intentConnectionInfo(info: NovaConnectionInfo | null | undefined): ConnectionInfo | undefined {
  return info ? { driver_volume_type: info.driver_volume_type, data: info.data } : undefined;
}

function pickPorts(args: BuildAndRunInstanceArgs, facts: NovaLookups, fail: Resolver<never>): PortBinding[] {
  const ports: PortBinding[] = [];
  for (const req of args.requested_networks?.data.objects ?? []) {
    const { port_id, network_id } = req.data;
    if (port_id) {
      const r = resolvePort(port_id, args.instance, facts);
      if (!r.ok) fail(r.reason);
      else ports.push(r.value);
    } else if (network_id !== 'none') {
      fail(
        `network ${network_id ?? '(unset)'} is requested without a port: nova-compute would create the port in Neutron; ` +
          'hostwall does not call Neutron, so boot with a port created beforehand',
      );
    }
  }
  return ports;
}

function pickVolumes(args: BuildAndRunInstanceArgs, facts: NovaLookups, fail: Resolver<never>): VolumeRef[] {
  const bdms = (args.block_device_mapping?.data.objects ?? []).filter((b) => b.data.destination_type === 'volume');
  // Boot order first (0 is the root), then the rest as Nova lists them.
  const order = (i: number | null | undefined) => (typeof i === 'number' && i >= 0 ? i : Number.MAX_SAFE_INTEGER);
  bdms.sort((a, b) => order(a.data.boot_index) - order(b.data.boot_index));
  return bdms.map((b) => {
    const volume_id = b.data.volume_id;
    if (!volume_id) return fail(`a volume block device has no volume_id (source ${b.data.source_type ?? 'unset'}); Nova creates such volumes in Cinder itself`);
    const ref = { volume_id, ...(b.data.attachment_id ? { attachment_id: b.data.attachment_id } : {}) };
    const r = resolveConnectionInfo(ref, intentConnectionInfo(b.data.connection_info), facts);
    return r.ok ? { volume_id, connection_info: r.value } : fail(r.reason);
  });
}

function ignoredInputs(args: BuildAndRunInstanceArgs): string[] {
  const d = args.instance.data;
  const fl = d.flavor?.data;
  const ignored: string[] = [];
  if (args.admin_password) ignored.push('admin_password (set by the guest agent or config drive, which hostwall does not build)');
  if (args.injected_files?.length) ignored.push('injected_files');
  if (d.config_drive) ignored.push('config_drive');
  if (d.user_data) ignored.push('user_data (served by Nova metadata API, not on the host, unless config_drive)');
  if (fl?.ephemeral_gb) ignored.push('flavor.ephemeral_gb');
  if (fl?.swap) ignored.push('flavor.swap');
  const specs = Object.keys(fl?.extra_specs ?? {});
  if (specs.length) ignored.push(`flavor.extra_specs (${specs.join(', ')})`);
  const blanks = (args.block_device_mapping?.data.objects ?? []).filter((b) => b.data.source_type === 'blank' && b.data.destination_type === 'local');
  if (blanks.length) ignored.push('block_device_mapping: local ephemeral/swap devices');
  return ignored;
}

export function translateBuildAndRunInstance(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(BuildArgsSchema, raw, t.method);
  const fail = (reason: string): never => refuse(t, reason);
  if (args.accel_uuids?.length) fail(`${args.accel_uuids.length} accelerator request(s) need Cyborg, which hostwall does not serve`);
  const flavor = pickFlavor(args) ?? fail('the instance carries no flavor (instance.flavor, request_spec.flavor)');
  const imageId = pickImageId(args);
  const ports = pickPorts(args, t.facts, fail);
  const volumes = pickVolumes(args, t.facts, fail);
  if (!imageId && volumes.length === 0) fail('nothing to boot from: no image and no volume');
  const metadata = args.instance.data.metadata ?? {};
  const spawn = intent('instance.spawn', {
    instance_uuid: args.instance.data.uuid,
    name: instanceName(args.instance, t.facts.instanceNameTemplate),
    flavor,
    ...(imageId ? { image: { id: imageId } } : {}),
    ...(ports.length ? { ports: ports.map((p) => p.port) } : {}),
    ...(volumes.length ? { volumes } : {}),
    ...(Object.keys(metadata).length ? { metadata } : {}),
    ...(ports.length ? { wait_for_ports: ports.some((p) => p.active !== true && p.port.vnic_type !== 'remote-managed') } : {}),
  });
  return adapted([spawn], ignoredInputs(args));
}
