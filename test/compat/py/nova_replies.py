#!/usr/bin/python3
"""How Debian's real Nova (26.2.2 Zed) reads the replies hostwall's Nova
adapter builds. One JSON request per stdin line, one JSON answer per line.

Ops:
  {"op": "bdm", "result": <reserve_block_device_name result>}
      -> NovaObjectSerializer.deserialize_entity, as the RPC client does:
         class, version, device_name, ...; then what compute/api.py does next
         (set delete_on_termination and save()) and what attach_volume would
         send after attachment_id is set (the re-serialized version and whether
         attachment_id survives).
  {"op": "vif", "result": <attach_interface result>}
      -> network_model.VIF.hydrate, and the `id` the API reads.
"""
import json
import sys
import warnings

warnings.filterwarnings('ignore')

import nova.conf  # noqa: E402

nova.conf.CONF([], project='nova', default_config_files=[])

from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova.network import model as network_model  # noqa: E402
from nova.objects import base  # noqa: E402

objects.register_all()
CTX = nova_context.RequestContext('u', 'p')
SERIALIZER = base.NovaObjectSerializer()


def bdm(req):
    obj = SERIALIZER.deserialize_entity(CTX, req['result'])
    out = {'class': type(obj).__name__, 'version': obj.VERSION,
           'fields': sorted(k for k in obj.fields if obj.obj_attr_is_set(k))}
    for key in ('device_name', 'volume_id', 'instance_uuid', 'source_type', 'destination_type', 'tag'):
        out[key] = getattr(obj, key) if obj.obj_attr_is_set(key) else None
    # compute/api.py _create_volume_bdm, right after the call returns:
    obj.delete_on_termination = False
    try:
        obj.save()
        out['save'] = 'ok'
    except Exception as exc:  # noqa: BLE001 - the point is to report which
        out['save'] = f'{type(exc).__name__}: {exc}'
    # _check_attach_and_reserve_volume sets attachment_id, then attach_volume casts it.
    obj.attachment_id = 'att-1'
    sent = SERIALIZER.serialize_entity(CTX, obj)
    out['resent_version'] = sent['nova_object.version']
    out['resent_attachment_id'] = sent['nova_object.data'].get('attachment_id')
    return out


def vif(req):
    model = network_model.VIF.hydrate(req['result'])
    return {'id': model['id'], 'address': model['address'], 'type': model['type'],
            'devname': model['devname'], 'bridge': model['network']['bridge'] if model['network'] else None}


OPS = {'bdm': bdm, 'vif': vif}

for line in sys.stdin:
    if not line.strip():
        continue
    request = json.loads(line)
    try:
        answer = OPS[request['op']](request)
    except Exception as exc:  # noqa: BLE001
        answer = {'error': f'{type(exc).__name__}: {exc}'}
    sys.stdout.write(json.dumps(answer) + '\n')
    sys.stdout.flush()
