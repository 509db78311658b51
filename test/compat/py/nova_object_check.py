"""Deserialize Nova object primitives with Debian's real Nova (Zed), as nova-conductor does.

stdin: a JSON list of primitives. stdout: one JSON list, per primitive either
{"name", "changed": [...], "fields": {...}} or {"error": "<class>: <message>"}.
"""
import json
import sys

from nova import objects
from nova.objects import base

objects.register_all()
out = []
for prim in json.load(sys.stdin):
    try:
        obj = base.NovaObject.obj_from_primitive(prim)
        fields = {}
        for name in obj.fields:
            if obj.obj_attr_is_set(name):
                v = getattr(obj, name)
                fields[name] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
        out.append({"name": obj.obj_name(), "changed": sorted(obj.obj_what_changed()), "fields": fields})
    except Exception as e:  # noqa: BLE001 - reported to the test
        out.append({"error": "%s: %s" % (type(e).__name__, e)})
print(json.dumps(out))
