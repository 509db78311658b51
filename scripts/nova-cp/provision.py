"""HTTP chores of nova-control-plane.sh, with Python's standard library only.

  provision.py wait DEADLINE_S URL...        each URL answers (any status below 500)
  provision.py image GLANCE_URL NAME         the active raw image NAME (created and
                                             uploaded when missing); prints its id
  provision.py flavor NOVA_URL NAME VCPUS RAM_MB DISK_GB
                                             the flavor NAME (created when missing);
                                             prints its id

Every request has a timeout; exit status 1 with the reason on stderr otherwise.
"""
import json
import sys
import time
import urllib.error
import urllib.request

TIMEOUT_S = 10
NOVA_HEADERS = {'X-Auth-Token': 'admin:admin', 'OpenStack-API-Version': 'compute 2.88'}
# A small raw disk: the fake driver never reads it, a real one would boot nothing.
IMAGE_BYTES = b'\0' * (1024 * 1024)


def request(method, url, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = dict(headers or {})
    if body is not None:
        hdrs['Content-Type'] = 'application/json'
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as res:
            text = res.read()
            return res.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors='replace')


def wait(deadline_s, urls):
    deadline = time.monotonic() + float(deadline_s)
    for url in urls:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as res:
                    if res.status < 500:
                        break
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit('%s did not answer within %s s' % (url, deadline_s))
            time.sleep(0.25)


def image(glance, name):
    status, found = request('GET', '%s/v2/images?name=%s' % (glance, name))
    if status != 200:
        sys.exit('GET images: %s %s' % (status, found))
    for img in found['images']:
        if img['status'] == 'active':
            return img['id']
        # An upload that did not finish (a previous `up` killed half-way).
        request('DELETE', '%s/v2/images/%s' % (glance, img['id']))
    # Default visibility: Glance without Keystone refuses "public" (403).
    status, img = request('POST', '%s/v2/images' % glance,
                          {'name': name, 'disk_format': 'raw', 'container_format': 'bare'})
    if status != 201:
        sys.exit('POST images: %s %s' % (status, img))
    status, err = request('PUT', '%s/v2/images/%s/file' % (glance, img['id']), raw=IMAGE_BYTES,
                          headers={'Content-Type': 'application/octet-stream'})
    if status != 204:
        sys.exit('PUT image file: %s %s' % (status, err))
    return img['id']


def flavor(nova, name, vcpus, ram, disk):
    status, found = request('GET', '%s/flavors/detail?is_public=None' % nova, headers=NOVA_HEADERS)
    if status != 200:
        sys.exit('GET flavors: %s %s' % (status, found))
    for f in found['flavors']:
        if f['name'] == name:
            return f['id']
    status, made = request('POST', '%s/flavors' % nova, headers=NOVA_HEADERS, body={
        'flavor': {'name': name, 'vcpus': int(vcpus), 'ram': int(ram), 'disk': int(disk)}})
    if status != 200:
        sys.exit('POST flavors: %s %s' % (status, made))
    return made['flavor']['id']


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == 'wait':
        wait(args[0], args[1:])
    elif cmd == 'image':
        print(image(*args))
    elif cmd == 'flavor':
        print(flavor(*args))
    else:
        sys.exit('unknown command %s' % cmd)


if __name__ == '__main__':
    main(sys.argv)
