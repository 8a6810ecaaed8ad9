"""One OCI image layer as scripts/runtime/build-images.sh writes it, for both of its layouts (the default one and
build-airflow's): a gzip'ed tar (numeric owners, sorted names, mtime 0, no atime or ctime; gzip level 1, no name
or time in its header), stored under BLOBS by its digest, so that the same files always give the same blob."""
import gzip
import hashlib
import json
import os
import subprocess
import sys

# What a root holds that no image of it may: the mount points' contents and the root's own marker.
ROOT_EXCLUDES = ("--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*", "--exclude=./tmp/*",
                 "--exclude=./.airflow-cdk8s-root")


class Hashing:
    """A file that hashes (sha256) and counts what is written to it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()


def layer(blobs, directory, *extra):
    """A gzip'ed tar layer of `directory` (tar's `extra` options) into `blobs`; (descriptor, diff_id)."""
    # --xattrs makes a pax archive, whose extended headers carry each file's atime and ctime: without them, a layer
    # of files written anew (the entrypoint, pause, git-sync, the StatsD exporter, PgBouncer) changed at each build.
    tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "--sort=name", "--mtime=@0",
                            "--pax-option=delete=atime,delete=ctime", *extra,
                            "-C", directory, "-cf", "-", "."], stdout=subprocess.PIPE)
    path = os.path.join(blobs, "tmp")
    raw = hashlib.sha256()
    with open(path, "wb") as f:
        z = Hashing(f)
        with gzip.GzipFile(fileobj=z, mode="wb", compresslevel=1, mtime=0) as g:
            while True:
                b = tar.stdout.read(1 << 20)
                if not b:
                    break
                raw.update(b)
                g.write(b)
    if tar.wait() != 0:
        sys.exit("tar failed for " + directory)
    digest = z.h.hexdigest()
    os.rename(path, os.path.join(blobs, digest))
    return ({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + digest,
             "size": z.n}, "sha256:" + raw.hexdigest())


def blob(blobs, obj, media):
    """`obj` as a JSON blob (sorted keys, no spaces) into `blobs`: its descriptor of media type `media`."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
