#!/usr/bin/python3
"""A FUSE filesystem whose one file never answers, like a file on a hung NFS server.

    usage: hung_fs.py MOUNTPOINT

The root lists `hung.img`; a lookup of it (stat, open) waits until the
connection is aborted (/sys/fs/fuse/connections/<minor>/abort) or this process
ends. Prints "ready" once the mount answers. Needs python3-fusepy, /dev/fuse
and root. A call waiting on it is in uninterruptible sleep: only the abort
frees it, so whoever mounts this must abort before unmounting.
"""
import errno
import os
import stat
import sys
import threading
import time

import fusepy


class Hung(fusepy.Operations):
    def getattr(self, path, fh=None):
        now = time.time()
        if path == '/':
            return {'st_mode': stat.S_IFDIR | 0o755, 'st_nlink': 2, 'st_ctime': now, 'st_mtime': now, 'st_atime': now}
        if path == '/hung.img':
            threading.Event().wait()
        raise fusepy.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return ['.', '..', 'hung.img']


def announce(mountpoint):
    for _ in range(100):
        if os.path.ismount(mountpoint):
            print('ready', flush=True)
            return
        time.sleep(0.05)
    print('not mounted', flush=True)


def main():
    mountpoint = sys.argv[1]
    threading.Thread(target=announce, args=(mountpoint,), daemon=True).start()
    fusepy.FUSE(Hung(), mountpoint, foreground=True, nothreads=False)


if __name__ == '__main__':
    main()
