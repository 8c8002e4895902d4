#!/usr/bin/python3
"""lazyfs.py: a pass-through FUSE file system that loses, on command, what was not synced.

    python3 lazyfs.py BACKING MOUNTPOINT
    python3 lazyfs.py --probe      (exits 0 if a mount works here, else says why)

Everything written through MOUNTPOINT lands in BACKING at once (reads see it, as
they see the page cache), but only what the strict POSIX rules make durable
survives a power cut:
  - a file's bytes (and size) as of its last fsync/fdatasync;
  - a directory's entries (creates, renames, unlinks, mkdir, rmdir) as of its
    last fsync: a new file whose directory was never synced is gone after a cut,
    a rename is undone, an unlinked file comes back (with its synced bytes);
  - `sync` below (what syncfs(2), `sync -f`, does: FUSE does not pass it on).
Like LazyFS (Jepsen's), but directories too, and as an undo log: writes go to
BACKING at once and the daemon keeps, per file, its durable size and the durable
bytes that unsynced writes overwrote, and per directory its durable entries;
unlinked names that may come back wait in BACKING/.lazyfs-attic. BACKING itself
is never fsynced: the host's own crash is not what this simulates.

Control, through two files at the mount's root (not listed by readdir):
  .lazyfs          write a command to it; the write returns once it is done and
                   one JSON line reports it on stdout:
                     cut [tear] [seed=N]  the power cut: drop everything unsynced
                       (with `tear`, the most recently written file keeps its
                       unsynced writes up to a random byte of the last one); from
                       then on every operation fails with EIO until the mount goes
                       (unmount and mount again: that is the reboot)
                     arm [tear] [seed=N] [count=N] before|after [OPS REGEX ...] OPS REGEX
                                          cut at the count-th operation of OPS
                                          (e.g. `fsync|rename`) on a path matching
                                          REGEX, before it runs (it fails) or after,
                                          once the earlier steps have been seen in
                                          order; the cut's report says where, and
                                          `tear` tears that file's last write
                     sync                 make everything durable (syncfs)
                     status               unsynced files and bytes
  .lazyfs-boot_id  a random id made when this mount started: a cut and a new
                   mount is a new boot (ftchat reads it through FTCHAT_BOOT_ID_FILE)
Single-threaded (the kernel queues requests): a cut is atomic with every other
operation. Needs root (or fuse group rights), /dev/fuse and Debian's
python3-fusepy (module `fusepy`, over libfuse2).
"""
import errno
import json
import os
import random
import re
import shutil
import stat
import sys
import time
import uuid
from collections import Counter

from fusepy import FUSE, FuseOSError, Operations

CONTROL = '/.lazyfs'
BOOT_ID = '/.lazyfs-boot_id'
ATTIC = '.lazyfs-attic'
TRASH = '.lazyfs-trash'
HIDDEN = '.lazyfs'
CONTROL_FH = 2**31 - 1


class FileState:
    """A file with unsynced changes: what its synced state was, as an undo log."""

    def __init__(self, size):
        self.durable_size = size
        self.undo = []  # (offset, durable bytes an unsynced write or truncate replaced), oldest first
        self.written = 0  # unsynced bytes written
        self.last = None  # (offset, data, size before, undo entries before): the tear candidate
        self.seq = 0
        self.path = None  # where it was last written (a hint for the cut)


class Trap:
    """An armed cut: at the count-th operation of OPS on a path matching REGEX (after each
    earlier OPS REGEX step has matched, in order), before it runs or right after."""

    def __init__(self, words):
        opts = dict(w.split('=', 1) for w in words if '=' in w)
        rest = [w for w in words if '=' not in w and w != 'tear']
        if len(rest) < 3 or len(rest) % 2 == 0 or rest[0] not in ('before', 'after'):
            raise FuseOSError(errno.EINVAL)
        self.before = rest[0] == 'before'
        self.steps = [(set(rest[i].split('|')), re.compile(rest[i + 1])) for i in range(1, len(rest), 2)]
        self.left = int(opts.get('count', 1))
        self.tear = 'tear' in words
        self.rng = random.Random(opts.get('seed'))

    def matches(self, op, path, args):
        ops, pattern = self.steps[0]
        if op not in ops or not any(pattern.search(p) for p in [path or ''] + ([args[0]] if op == 'rename' else [])):
            return False
        if len(self.steps) > 1:
            self.steps.pop(0)  # an earlier step: on to the next
            return False
        self.left -= 1
        return self.left == 0


class LazyFS(Operations):
    use_ns = True
    flag_nullpath_ok = True  # with hard_remove: an unlinked file still open is reached by its handle

    def __init__(self, backing):
        self.root = os.path.realpath(backing)
        self.attic = os.path.join(self.root, ATTIC)
        os.makedirs(self.attic, exist_ok=True)
        self.boot_id = (str(uuid.uuid4()) + '\n').encode()
        self.files = {}  # ino -> FileState, for files with unsynced data
        self.dirs = {}  # dir ino -> {name: ino}: the durable entries of a dir changed since its last sync
        self.refs = Counter()  # ino -> how many durable entries above name it
        self.seq = 0
        self.off = False
        self.trap = None
        self.sync_fhs = set()  # handles opened O_SYNC/O_DSYNC: each write is durable

    # ---- paths and guards

    def _real(self, path):
        if path is None:
            raise FuseOSError(errno.ENOENT)
        if path.startswith('/' + HIDDEN):
            raise FuseOSError(errno.ENOENT)  # the attic, the trash: not part of the file system
        return self.root if path == '/' else self.root + path

    def __call__(self, op, path, *args):
        if path in (CONTROL, BOOT_ID) or op in ('init', 'destroy', 'flush', 'release', 'releasedir'):
            return getattr(self, op)(path, *args)
        if self.off:
            raise FuseOSError(errno.EIO)  # the power is off
        trap = self.trap
        fires = trap is not None and trap.matches(op, path, args)
        if fires and trap.before:
            self._fire(op, path)
            raise FuseOSError(errno.EIO)
        result = getattr(self, op)(path, *args)
        if fires:
            self._fire(op, path)
        return result

    def _fire(self, op, path):
        trap, self.trap = self.trap, None
        report = self._cut(trap.tear, trap.rng, path)
        print(json.dumps({'command': 'cut', 'at': f"{'before' if trap.before else 'after'} {op} {path}", **report}), flush=True)

    # ---- durability bookkeeping

    def _entries(self, real_dir):
        at_root = real_dir == self.root
        return {e.name: e.inode() for e in os.scandir(real_dir) if not (at_root and e.name.startswith(HIDDEN))}

    def _changing(self, real_dir):
        """Before a name in this dir changes: keep its durable entries, if not kept since its last sync."""
        ino = os.lstat(real_dir).st_ino
        if ino not in self.dirs:
            self.dirs[ino] = self._entries(real_dir)
            self.refs.update(self.dirs[ino].values())
        return ino

    def _synced_dir(self, ino):
        for i in self.dirs.pop(ino, {}).values():
            self.refs[i] -= 1
            if self.refs[i] <= 0:
                del self.refs[i]
        for name in os.listdir(self.attic):
            if int(name) not in self.refs:
                self._delete(os.path.join(self.attic, name))

    def _delete(self, real):
        st = os.lstat(real)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(real)
            self.dirs.pop(st.st_ino, None)
        else:
            os.unlink(real)
        if st.st_nlink <= 1:
            self.files.pop(st.st_ino, None)  # gone: its inode number may be reused

    def _remove(self, real):
        """An unlink or rmdir: to the attic if a durable entry still names it, else gone."""
        ino = os.lstat(real).st_ino
        if ino in self.refs:
            os.rename(real, os.path.join(self.attic, str(ino)))
        else:
            self._delete(real)

    def _state(self, fh, path):
        st = os.fstat(fh)
        fs = self.files.get(st.st_ino)
        if fs is None:
            fs = self.files[st.st_ino] = FileState(st.st_size)
        self.seq += 1
        fs.seq = self.seq
        if path is not None:
            fs.path = path
        return fs, st.st_size

    def _keep_durable(self, fs, fh, lo, hi, size):
        """Saves the durable bytes in [lo, hi) before they are replaced."""
        hi = min(hi, size, fs.durable_size)
        if lo < hi:
            fs.undo.append((lo, os.pread(fh, hi - lo, lo)))

    # ---- the control files

    def _command(self, line):
        words = line.split()
        started = time.monotonic()
        if words[:1] == ['cut']:
            opts = dict(w.split('=', 1) for w in words[1:] if '=' in w)
            report = self._cut('tear' in words, random.Random(opts.get('seed')))
        elif words == ['sync']:
            report = {'files': len(self.files), 'bytes': sum(f.written for f in self.files.values()), 'dirs': len(self.dirs)}
            self.files.clear()
            for ino in list(self.dirs):
                self._synced_dir(ino)
        elif words[:1] == ['arm']:
            self.trap = Trap(words[1:])
            report = {}
        elif words == ['status']:
            report = {'files': len(self.files), 'bytes': sum(f.written for f in self.files.values()), 'dirs': len(self.dirs), 'off': self.off}
        else:
            raise FuseOSError(errno.EINVAL)
        report = {'command': words[0], **report, 'ms': round((time.monotonic() - started) * 1000, 1)}
        print(json.dumps(report), flush=True)

    # ---- the power cut

    def _cut(self, tear, rng, struck=None):
        self.off = True
        names = self._undo_names()
        paths = self._paths()
        # The write torn: the last one of the file an armed cut struck at, else of the most
        # recently written file (of those whose names survived).
        candidates = [(fs.path == struck, fs.seq, ino) for ino, fs in self.files.items() if fs.last is not None and ino in paths]
        torn = max(candidates)[2] if tear and candidates else None
        dropped = sum(fs.written for fs in self.files.values())
        report_tear = None
        for ino, path in paths.items():
            fs = self.files[ino]
            with open(path, 'r+b', buffering=0) as f:
                if ino == torn:
                    offset, data, size_before, mark = fs.last
                    keep = rng.randrange(1, len(data)) if len(data) > 1 else 0
                    self._undo(f.fileno(), fs.undo[mark:], size_before)
                    os.pwrite(f.fileno(), data[:keep], offset)
                    dropped -= keep
                    report_tear = {'path': fs.path, 'offset': offset, 'kept': keep, 'of': len(data)}
                else:
                    self._undo(f.fileno(), fs.undo, fs.durable_size)
        dropped_files = len(self.files)
        self.files.clear()
        return {'droppedBytes': dropped, 'droppedFiles': dropped_files, 'namesUndone': names, 'torn': report_tear}

    @staticmethod
    def _undo(fd, undo, size):
        for at, old in reversed(undo):
            os.pwrite(fd, old, at)
        os.ftruncate(fd, size)

    def _paths(self):
        """Where each file with unsynced bytes is now (after the names were put back); a file whose name did not survive has none."""
        paths, where = {}, None
        for ino, fs in self.files.items():
            path = self.root + fs.path if fs.path else None
            if path is None or not os.path.lexists(path) or os.lstat(path).st_ino != ino:
                where = where if where is not None else self._walk([self.root])
                path = where.get(ino)
            if path is not None:
                paths[ino] = path
        return paths

    def _walk(self, bases):
        where = {}
        for base in bases:
            for dirpath, dirnames, filenames in os.walk(base):
                if dirpath == self.root:
                    dirnames[:] = [d for d in dirnames if not d.startswith(HIDDEN)]
                for n in dirnames + filenames:
                    p = os.path.join(dirpath, n)
                    where.setdefault(os.lstat(p).st_ino, p)
        return where

    def _undo_names(self):
        """Puts every directory back to its durable entries; returns how many names changed."""
        if not self.dirs:
            return 0
        changed = 0
        # Everything visible moves to the trash, then the durable tree is put back together from it.
        trash = os.path.join(self.root, TRASH)
        os.mkdir(trash)
        for name in os.listdir(self.root):
            if not name.startswith(HIDDEN):
                os.rename(os.path.join(self.root, name), os.path.join(trash, name))
        where = self._walk([trash, self.attic])
        where[os.lstat(self.root).st_ino] = trash
        dirty = [where[i] for i in self.dirs if i in where]
        placed = {}

        def place(entries_of, src_dir, dst_dir):
            nonlocal changed
            durable = entries_of
            live = {e.name: e.inode() for e in os.scandir(src_dir)} if os.path.isdir(src_dir) else {}
            changed += len(set(durable.items()) ^ set(live.items()))
            for name, ino in durable.items():
                dst = os.path.join(dst_dir, name)
                if ino in placed:  # a second durable name for one file (a hard link)
                    os.link(placed[ino], dst)
                    continue
                src = where.get(ino)
                if src is None:
                    print(json.dumps({'warning': 'durable entry without its file', 'name': dst[len(self.root):]}), file=sys.stderr)
                    continue
                st = os.lstat(src)
                if stat.S_ISDIR(st.st_mode) and (ino in self.dirs or any(d.startswith(src + '/') for d in dirty)):
                    os.mkdir(dst, stat.S_IMODE(st.st_mode))
                    place(self.dirs.get(ino) or self._entries(src), src, dst)
                else:
                    os.rename(src, dst)  # a file, or a whole dir nothing changed in
                placed[ino] = dst

        root_ino = os.lstat(self.root).st_ino
        place(self.dirs.get(root_ino) or self._entries(trash), trash, self.root)
        shutil.rmtree(trash)
        shutil.rmtree(self.attic)
        os.mkdir(self.attic)
        self.dirs.clear()
        self.refs.clear()
        return changed

    # ---- file system operations

    def getattr(self, path, fh=None):
        if path == CONTROL or path == BOOT_ID:
            size = len(self.boot_id) if path == BOOT_ID else 0
            return {'st_mode': stat.S_IFREG | 0o600, 'st_nlink': 1, 'st_size': size, 'st_uid': os.getuid(), 'st_gid': os.getgid()}
        st = os.fstat(fh) if fh is not None and path is None else os.lstat(self._real(path))
        return {'st_mode': st.st_mode, 'st_nlink': st.st_nlink, 'st_size': st.st_size, 'st_uid': st.st_uid, 'st_gid': st.st_gid,
                'st_atime': st.st_atime_ns, 'st_mtime': st.st_mtime_ns, 'st_ctime': st.st_ctime_ns}

    def readdir(self, path, fh):
        real = self._real(path)
        out = ['.', '..']
        for e in os.scandir(real):
            if real == self.root and e.name.startswith(HIDDEN):
                continue
            mode = stat.S_IFDIR if e.is_dir(follow_symlinks=False) else stat.S_IFLNK if e.is_symlink() else stat.S_IFREG
            out.append((e.name, {'st_mode': mode}, 0))
        return out

    def statfs(self, path):
        sv = os.statvfs(self.root)
        return {k: getattr(sv, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def access(self, path, amode):
        if path in (CONTROL, BOOT_ID):
            return 0
        if not os.access(self._real(path), amode):
            raise FuseOSError(errno.EACCES)

    def readlink(self, path):
        return os.readlink(self._real(path))

    def chmod(self, path, mode):
        os.chmod(self._real(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._real(path), uid, gid, follow_symlinks=False)

    def utimens(self, path, times=None):
        os.utime(self._real(path), ns=times, follow_symlinks=False)

    def open(self, path, flags):
        if path in (CONTROL, BOOT_ID):
            return CONTROL_FH
        # The kernel truncates through truncate() and places appends itself (its own size);
        # a writer's handle also reads, to keep the durable bytes it replaces.
        keep = flags & ~(os.O_TRUNC | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_ACCMODE)
        fh = os.open(self._real(path), keep | (os.O_RDONLY if flags & os.O_ACCMODE == os.O_RDONLY else os.O_RDWR))
        if flags & (os.O_SYNC | os.O_DSYNC):
            self.sync_fhs.add(fh)
        return fh

    def create(self, path, mode, fi=None):
        real = self._real(path)
        existed = os.path.lexists(real)
        if not existed:
            self._changing(os.path.dirname(real))
        return os.open(real, os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, size, offset, fh):
        if fh == CONTROL_FH:
            return self.boot_id[offset:offset + size] if path == BOOT_ID else b''
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        if fh == CONTROL_FH:
            if path != CONTROL:
                raise FuseOSError(errno.EACCES)
            self._command(data.decode())
            return len(data)
        fs, size = self._state(fh, path)
        mark = len(fs.undo)
        self._keep_durable(fs, fh, offset, offset + len(data), size)
        fs.last = (offset, bytes(data), size, mark)
        fs.written += len(data)
        n = os.pwrite(fh, data, offset)
        if fh in self.sync_fhs:
            self.files.pop(os.fstat(fh).st_ino, None)
        return n

    def truncate(self, path, length, fh=None):
        if path == CONTROL:
            return 0
        if fh is None:
            with open(self._real(path), 'r+b', buffering=0) as f:
                return self._truncate(f.fileno(), path, length)
        return self._truncate(fh, path, length)

    def _truncate(self, fh, path, length):
        fs, size = self._state(fh, path)
        self._keep_durable(fs, fh, length, size, size)
        fs.last = None
        os.ftruncate(fh, length)

    def flush(self, path, fh):
        return 0  # a close is not a sync

    def release(self, path, fh):
        if fh == CONTROL_FH:
            return 0
        if os.fstat(fh).st_nlink == 0 and not self.off:
            self.files.pop(os.fstat(fh).st_ino, None)  # gone for good: its inode number may be reused
        self.sync_fhs.discard(fh)
        os.close(fh)

    def fsync(self, path, datasync, fh):
        self.files.pop(os.fstat(fh).st_ino, None)

    def fsyncdir(self, path, datasync, fh):
        self._synced_dir(os.lstat(self._real(path)).st_ino)

    def mkdir(self, path, mode):
        real = self._real(path)
        self._changing(os.path.dirname(real))
        os.mkdir(real, mode)
        self.dirs[os.lstat(real).st_ino] = {}  # a new dir holds nothing durably until it is synced

    def rmdir(self, path):
        real = self._real(path)
        if os.listdir(real):
            raise FuseOSError(errno.ENOTEMPTY)
        self._changing(os.path.dirname(real))
        self._remove(real)

    def unlink(self, path):
        real = self._real(path)
        self._changing(os.path.dirname(real))
        self._remove(real)

    def symlink(self, target, source):
        real = self._real(target)
        self._changing(os.path.dirname(real))
        os.symlink(source, real)

    def rename(self, old, new):
        src, dst = self._real(old), self._real(new)
        self._changing(os.path.dirname(src))
        self._changing(os.path.dirname(dst))
        if os.path.lexists(dst):
            if os.path.isdir(dst) and not os.path.islink(dst) and os.listdir(dst):
                raise FuseOSError(errno.ENOTEMPTY)
            self._remove(dst)
        os.rename(src, dst)

    def link(self, target, source):
        real = self._real(target)
        self._changing(os.path.dirname(real))
        os.link(self._real(source), real)

    def init(self, path):
        print(json.dumps({'event': 'mounted', 'bootId': self.boot_id.decode().strip()}), flush=True)


def probe():
    """Mounts and unmounts a scratch dir: exits 0 if that works here, else 1 saying why."""
    import subprocess
    import tempfile
    scratch = tempfile.mkdtemp(prefix='lazyfs-probe-')
    backing, mountpoint = os.path.join(scratch, 'b'), os.path.join(scratch, 'm')
    os.mkdir(backing)
    os.mkdir(mountpoint)
    daemon = subprocess.Popen([sys.executable, __file__, backing, mountpoint], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mounted = b'mounted' in daemon.stdout.readline()  # or the end of its output, if it failed
    if mounted:
        subprocess.run(['umount', '-l', mountpoint], check=False)
    err = daemon.communicate(timeout=30)[1].decode().strip().splitlines()
    shutil.rmtree(scratch, ignore_errors=True)
    if not mounted:
        sys.exit(err[-1] if err else 'the mount did not start')


def main():
    if sys.argv[1:] == ['--probe']:
        return probe()
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    backing, mountpoint = sys.argv[1], sys.argv[2]
    # big_writes: writes of up to 128 KiB per request (libfuse2 splits them into 4 KiB pages otherwise);
    # hard_remove: an unlinked file still open is unlinked, not hidden as .fuse_hidden*.
    FUSE(LazyFS(backing), mountpoint, foreground=True, nothreads=True, big_writes=True, hard_remove=True, fsname='lazyfs', subtype='lazyfs')


if __name__ == '__main__':
    main()
