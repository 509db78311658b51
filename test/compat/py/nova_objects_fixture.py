"""Real Nova objects, shaped the way nova-api and nova-conductor fill them in
Zed, for nova_capture.py. Every id and timestamp is fixed so the captured
messages are stable; only oslo's own ids (_unique_id, _msg_id, _reply_q) vary.

Where the shapes come from (Debian python3-nova 26.2.2):
- build: compute/api.py _populate_instance_for_create (vm_state building,
  task_state scheduling, empty info_cache, no host yet) and conductor/manager.py
  schedule_and_build_instances (filter_properties from the RequestSpec, host
  limits as a dict, alternates in host_list, the glance image dict as `image`).
- attach: compute/api.py _attach_volume: the BDM comes back from
  reserve_block_device_name, gets attachment_id from Cinder attachment_create,
  and is cast with connection_info None (the compute asks Cinder for it).
- events: api/openstack/compute/server_external_events.py sets instance_uuid,
  name, status and tag only.
"""
import datetime
import json

from nova import objects
from nova.network import model as network_model
from nova.scheduler import utils as scheduler_utils

INSTANCE_UUID = 'a3b8e0f2-5c1d-4e6f-9a7b-2c3d4e5f6a7b'
IMAGE_ID = '0d9c6b5a-4e3f-4a2b-8c1d-9e8f7a6b5c4d'
PORT_ID = '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b'
PORT2_ID = '6f1d2b3c-4d5e-4f60-9b7c-8d9e0f1a2b3c'
NEW_PORT_ID = '7a2e3c4d-5e6f-4071-8c8d-9e0f1a2b3c4d'
NETWORK_ID = '1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b'
VOLUME_ID = '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d'
ATTACHMENT_ID = '2d3e4f50-6172-4839-8a4b-5c6d7e8f9a0b'
PROJECT_ID = '0f4c2c4cbb8c4d5e9b8d6c7a5e4f3a21'
USER_ID = '6d2ac6f9c3ce4b8ab0fbc1e1d0e2c0a1'
NODE = 'hostwall-capture-1.example.org'
T0 = datetime.datetime(2024, 5, 1, 11, 58, 0, tzinfo=datetime.timezone.utc)


def flavor():
    return objects.Flavor(
        id=6, flavorid='hw.small', name='hw.small', vcpus=2, memory_mb=2048, root_gb=20,
        ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0, disabled=False, is_public=True,
        extra_specs={'hw:cpu_policy': 'shared', 'hw_rng:allowed': 'True'}, description=None,
        created_at=T0, updated_at=None, deleted_at=None, deleted=False)


def vif(port_id, mac, active=True):
    subnet = network_model.Subnet(
        cidr='10.0.0.0/24', gateway=network_model.IP(address='10.0.0.1', type='gateway'),
        ips=[network_model.FixedIP(address='10.0.0.17', floating_ips=[])], dns=[], routes=[],
        version=4, meta={'dhcp_server': '10.0.0.2'})
    network = network_model.Network(
        id=NETWORK_ID, bridge='br-int', label='private', subnets=[subnet],
        injected=False, tenant_id=PROJECT_ID, mtu=1442, physical_network=None, tunneled=True)
    return network_model.VIF(
        id=port_id, address=mac, network=network, type='ovs',
        details={'port_filter': True, 'connectivity': 'l2', 'ovs_hybrid_plug': False,
                 'datapath_type': 'system', 'bridge_name': 'br-int'},
        devname='tap' + port_id[:11], ovs_interfaceid=port_id, qbh_params=None, qbg_params=None,
        active=active, vnic_type='normal', profile={}, preserve_on_delete=True, meta={})


def instance(ctx, building=False):
    inst = objects.Instance(
        context=ctx, id=42, uuid=INSTANCE_UUID, display_name='web-1', display_description='web-1',
        hostname='web-1', project_id=PROJECT_ID, user_id=USER_ID, image_ref=IMAGE_ID,
        flavor=flavor(), old_flavor=None, new_flavor=None, instance_type_id=6,
        vcpus=2, memory_mb=2048, root_gb=20, ephemeral_gb=0, launch_index=0, reservation_id='r-3fhpjulh',
        key_name=None, key_data=None, config_drive='', user_data=None, availability_zone='nova',
        root_device_name=None if building else '/dev/vda', locked=False, locked_by=None,
        metadata={'role': 'web'}, system_metadata={
            'image_disk_format': 'qcow2', 'image_container_format': 'bare', 'image_min_ram': '0',
            'image_min_disk': '20', 'image_base_image_ref': IMAGE_ID, 'image_hw_disk_bus': 'virtio',
            'image_os_shutdown_timeout': '30'},
        security_groups=objects.SecurityGroupList(objects=[]),
        info_cache=objects.InstanceInfoCache(
            instance_uuid=INSTANCE_UUID,
            network_info=network_model.NetworkInfo([] if building else [vif(PORT_ID, 'fa:16:3e:4c:2d:10')])),
        created_at=T0, updated_at=T0, launched_at=None if building else T0, terminated_at=None,
        deleted_at=None, deleted=False, cleaned=False, shutdown_terminate=False, disable_terminate=False,
        progress=0, os_type=None, architecture=None, vm_mode=None, kernel_id='', ramdisk_id='',
        auto_disk_config=False, ephemeral_key_uuid=None, hidden=False, trusted_certs=None, tags=objects.TagList())
    if building:
        inst.update({'vm_state': 'building', 'task_state': 'scheduling', 'power_state': 0,
                     'host': None, 'node': None, 'launched_on': None})
    else:
        inst.update({'vm_state': 'active', 'task_state': None, 'power_state': 1,
                     'host': 'hostwall-capture-1', 'node': NODE, 'launched_on': 'hostwall-capture-1'})
    return inst


def bfv_instance(ctx):
    inst = instance(ctx, building=True)
    inst.image_ref = ''
    return inst


def image_dict():
    """What compute/api.py _get_image returns (glance v2, translated), before to_primitive."""
    return {'id': IMAGE_ID, 'name': 'cirros-0.6.2-x86_64-disk', 'status': 'active', 'min_ram': 0,
            'min_disk': 0, 'size': 21430272, 'checksum': 'c8fc807773e5354afe61636071771906',
            'owner': PROJECT_ID, 'container_format': 'bare', 'disk_format': 'qcow2', 'is_public': True,
            'created_at': T0, 'updated_at': T0, 'deleted': False, 'deleted_at': None,
            'properties': {'hw_disk_bus': 'virtio', 'hw_vif_model': 'virtio', 'os_distro': 'cirros'}}


def bdm(ctx, **kw):
    base = dict(context=ctx, instance_uuid=INSTANCE_UUID, created_at=T0, updated_at=T0, deleted_at=None,
                deleted=False, guest_format=None, disk_bus=None, device_type=None, snapshot_id=None,
                image_id=None, volume_id=None, volume_size=None, volume_type=None, no_device=False,
                connection_info=None, tag=None, attachment_id=None, encrypted=False,
                encryption_secret_uuid=None, encryption_format=None, encryption_options=None)
    base.update(kw)
    return objects.BlockDeviceMapping(**base)


def root_bdm(ctx):
    return bdm(ctx, id=16, uuid='3e4f5061-7283-4a4b-9c5d-6e7f8091a2b3', source_type='image',
               destination_type='local', image_id=IMAGE_ID, boot_index=0, device_name='/dev/vda',
               delete_on_termination=True)


def connection_info_json():
    # The shape Cinder's LVM/iSCSI driver returns from attachment_update, plus
    # the 'serial' Nova adds (virt/block_device.py).
    return json.dumps({
        'driver_volume_type': 'iscsi',
        'data': {'target_discovered': False, 'target_portal': '192.0.2.50:3260',
                 'target_iqn': 'iqn.2010-10.org.openstack:volume-' + VOLUME_ID, 'target_lun': 1,
                 'volume_id': VOLUME_ID, 'auth_method': 'CHAP', 'auth_username': 'zk3HTb9p',
                 'auth_password': 'CHAP-SECRET', 'encrypted': False, 'qos_specs': None,
                 'access_mode': 'rw', 'cacheable': False},
        'status': 'reserved', 'instance': INSTANCE_UUID, 'attached_at': '', 'detached_at': '',
        'volume_id': VOLUME_ID, 'serial': VOLUME_ID})


def volume_bdm(ctx, with_info=False, boot=False):
    return bdm(ctx, id=17, uuid='4f506172-8394-4b5c-8d6e-7f8091a2b3c4', source_type='volume',
               destination_type='volume', volume_id=VOLUME_ID, attachment_id=ATTACHMENT_ID,
               boot_index=0 if boot else None, device_name='/dev/vda' if boot else '/dev/vdb',
               delete_on_termination=boot, volume_size=20 if boot else None,
               connection_info=connection_info_json() if with_info else None)


def event(ctx, name, tag, status='completed'):
    ev = objects.InstanceExternalEvent(ctx)
    ev.instance_uuid = INSTANCE_UUID
    ev.name = name
    ev.status = status
    ev.tag = tag
    return ev


def make_request_spec(fl, image, requested_networks, limits, is_bfv):
    return objects.RequestSpec(
        instance_uuid=INSTANCE_UUID, flavor=fl, image=objects.ImageMeta.from_dict(image), num_instances=1,
        project_id=PROJECT_ID, user_id=USER_ID, availability_zone=None, ignore_hosts=None,
        force_hosts=None, force_nodes=None, scheduler_hints={}, is_bfv=is_bfv,
        security_groups=objects.SecurityGroupList(objects=[objects.SecurityGroup(name='default')]),
        requested_networks=requested_networks, limits=limits, instance_group=None,
        requested_destination=None, retry=None)


def build_objects(ctx):
    fl = flavor()
    image = image_dict()
    limits = objects.SchedulerLimits(numa_topology=None, vcpu=None, disk_gb=None, memory_mb=None)
    selection = objects.Selection(
        service_host='hostwall-capture-1', nodename=NODE, compute_node_uuid='8091a2b3-c4d5-4e6f-8071-8293a4b5c6d7',
        cell_uuid='00000000-0000-0000-0000-000000000001', limits=limits, allocation_request=None,
        allocation_request_version=None, availability_zone='nova')
    alternate = objects.Selection(
        service_host='hostwall-capture-2', nodename='hostwall-capture-2.example.org',
        compute_node_uuid='91a2b3c4-d5e6-4f70-8182-93a4b5c6d7e8',
        cell_uuid='00000000-0000-0000-0000-000000000001', limits=limits,
        allocation_request='{"allocations": {}}', allocation_request_version='1.36', availability_zone='nova')
    requested_networks = objects.NetworkRequestList(objects=[
        objects.NetworkRequest(network_id=NETWORK_ID, port_id=PORT_ID, address=None, tag=None)])
    request_spec = make_request_spec(fl, image, requested_networks, limits, is_bfv=False)
    # Boot from volume: no image_ref, the image metadata comes from the volume
    # (block_device.get_bdm_image_metadata, no image id), the root BDM is a volume.
    bfv_image = {'properties': {'hw_disk_bus': 'virtio'}, 'size': 0, 'status': 'active', 'min_ram': 0,
                 'min_disk': 20, 'container_format': 'bare', 'disk_format': 'qcow2'}
    bfv_request_spec = make_request_spec(fl, bfv_image, requested_networks, limits, is_bfv=True)
    filter_properties = request_spec.to_legacy_filter_properties_dict()
    scheduler_utils.populate_retry(filter_properties, INSTANCE_UUID)
    scheduler_utils.populate_filter_properties(filter_properties, selection)
    return {
        'instance': instance(ctx), 'build_instance': instance(ctx, building=True),
        'image': image, 'image_id': IMAGE_ID, 'request_spec': request_spec,
        'filter_properties': filter_properties, 'requested_networks': requested_networks,
        'build_bdms': objects.BlockDeviceMappingList(objects=[root_bdm(ctx)]),
        'bfv_instance': bfv_instance(ctx), 'bfv_image': bfv_image, 'bfv_request_spec': bfv_request_spec,
        'bfv_bdms': objects.BlockDeviceMappingList(objects=[volume_bdm(ctx, boot=True)]),
        'bdms': objects.BlockDeviceMappingList(objects=[root_bdm(ctx), volume_bdm(ctx, with_info=True)]),
        'node': NODE, 'limits': limits, 'host_list': [alternate],
        'attach_bdm': volume_bdm(ctx), 'attach_bdm_with_info': volume_bdm(ctx, with_info=True),
        'volume_id': VOLUME_ID, 'attachment_id': ATTACHMENT_ID, 'port_id': PORT_ID,
        'new_port_id': NEW_PORT_ID, 'network_id': NETWORK_ID,
        'events': {
            'default': [event(ctx, 'network-vif-plugged', PORT_ID)],
            'failed': [event(ctx, 'network-vif-plugged', PORT_ID, 'failed')],
            'batch': [event(ctx, 'network-changed', PORT_ID), event(ctx, 'network-vif-plugged', PORT_ID),
                      event(ctx, 'network-vif-plugged', PORT2_ID)],
            'unplugged': [event(ctx, 'network-vif-unplugged', PORT_ID)],
            'deleted': [event(ctx, 'network-vif-deleted', PORT_ID)],
            'volume_extended': [event(ctx, 'volume-extended', VOLUME_ID)],
            'power_update': [event(ctx, 'power-update', 'POWER_OFF')],
        },
    }
