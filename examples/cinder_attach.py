#!/usr/bin/python3
"""A Cinder-style sender: ask a host for its connector, then attach a volume.

What cinder-volume (or os-brick's caller) would do, with no Nova in between
and no lock files: the wall serializes attaches per instance and per volume.

    usage: cinder_attach.py HOST INSTANCE_UUID VOLUME_ID PATH
    env:   AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/)
"""
import json
import os
import sys

from oslo_config import cfg
import oslo_messaging


def main():
    host, instance_uuid, volume_id, path = sys.argv[1:5]
    url = 'rabbit://' + os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/').split('://', 1)[1]
    cfg.CONF(args=[], project='cinder-example')
    oslo_messaging.set_transport_defaults('nova')
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    target = oslo_messaging.Target(topic='compute', server=host, namespace='hostwall', version='1.0')
    client = oslo_messaging.get_rpc_client(transport, target, timeout=60)
    ctxt = {'issuer': 'cinder', 'request_id': 'req-cinder-example'}

    # os-brick's get_connector_properties, answered by the host itself.
    connector = client.call(ctxt, 'host.connector')
    print('connector', json.dumps(connector, sort_keys=True))

    # Cinder's connection_info, as initialize_connection would return it.
    connection_info = {'driver_volume_type': 'file', 'data': {'device_path': path}}
    result = client.call(ctxt, 'volume.attach', instance_uuid=instance_uuid,
                         volume_id=volume_id, connection_info=connection_info)
    print('attached', json.dumps(result, sort_keys=True))
    transport.cleanup()


if __name__ == '__main__':
    main()
