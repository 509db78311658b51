"""Read INI files with Debian's real oslo.config and print every option's value as JSON.

argv: a JSON object {"files": [...], "dirs": [...], "options": {"SECTION": ["key", ...]}}.
Each named option is registered as a StrOpt (DEFAULT options in DEFAULT), so
oslo.config's own parsing, precedence and $substitution decide the value.
"""
import json
import sys

from oslo_config import cfg

spec = json.loads(sys.argv[1])
conf = cfg.ConfigOpts()
for section, keys in spec["options"].items():
    opts = [cfg.StrOpt(k) for k in keys]
    if section == "DEFAULT":
        conf.register_opts(opts)
    else:
        conf.register_opts(opts, group=section)
args = []
for f in spec["files"]:
    args += ["--config-file", f]
for d in spec["dirs"]:
    args += ["--config-dir", d]
out = {}
try:
    conf(args, project="hostwall-test", default_config_files=[], default_config_dirs=[])
    for section, keys in spec["options"].items():
        group = conf if section == "DEFAULT" else getattr(conf, section)
        out[section] = {}
        for k in keys:
            try:
                out[section][k] = getattr(group, k)
            except Exception as e:  # noqa: BLE001 - the test compares failures too
                out[section][k] = {"error": type(e).__name__}
    print(json.dumps({"ok": out}))
except Exception as e:  # noqa: BLE001
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
