package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

// cacheTTL is how long the kernel and this process trust what they learnt of a remote file
// or directory: short, so that a file changed on the daemon shows within a second or two.
const cacheTTL = time.Second

func runMount(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("mount", flag.ContinueOnError)
	fset.SetOutput(stderr)
	debug := fset.Bool("debug", false, "log every FUSE request")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), `Usage: rangecast mount LINK MOUNTPOINT

Mounts the daemon's files read-only at MOUNTPOINT (an existing empty directory), so that any
program can open them. Sequential reads stream ahead (up to 4 MiB); a seek fetches only what
is read after it. Metadata is cached for a second; file contents stay in the kernel's cache
across opens until the file changes on the daemon. It runs until Ctrl-C, which unmounts. Linux only, through FUSE (/dev/fuse; as a user other
than root it needs fusermount3, from Debian's fuse3 package).

Examples:
  mkdir -p ~/remote && rangecast mount "$LINK" ~/remote
  mpv ~/remote/movies/film.mkv
  rsync -a ~/remote/photos/ ./photos/
  fusermount3 -u ~/remote          # or Ctrl-C in the terminal running rangecast mount

Flags:
`)
		fset.PrintDefaults()
		fmt.Fprint(fset.Output(), linkHelp)
	}
	pos, help, err := parseFlags(fset, args)
	if help || err != nil {
		return err
	}
	link, rest, ok := splitLink(pos)
	if !ok || len(rest) != 1 {
		return usagef("mount takes LINK MOUNTPOINT")
	}
	mnt := rest[0]
	switch st, err := os.Stat(mnt); {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("MOUNTPOINT %q does not exist: create an empty directory to mount on (mkdir %s)", mnt, mnt)
	case err != nil:
		return usagef("MOUNTPOINT %q: %v", mnt, err)
	case !st.IsDir():
		return usagef("MOUNTPOINT %q is not a directory", mnt)
	}
	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()

	ttl := cacheTTL
	root := &mountNode{m: newMountState(s), path: "."}
	srv, err := gofs.Mount(mnt, root, &gofs.Options{
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &ttl,
		MountOptions: fuse.MountOptions{
			FsName:      "rangecast",
			Name:        "rangecast",
			DirectMount: true, // as root, mount(2) directly; fusermount3 otherwise
			// The kernel's read-ahead: go-fuse holds it to MaxWrite (128 KiB); 1 MiB reads
			// measured no better (docs/BENCHMARKS.md, "Mount: larger FUSE reads").
			MaxReadAhead: 1 << 20,
			Debug:        *debug,
			Logger:       log.New(stderr, "", log.Ltime|log.Lmicroseconds),
			Options:      []string{"ro"},
		},
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w (is /dev/fuse there? as a user, fusermount3 from the fuse3 package is needed)", mnt, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	logger.Info("mounted the remote files read-only; Ctrl-C unmounts", "mountpoint", mnt)
	fmt.Fprintln(stdout, mnt)

	served := make(chan struct{})
	go func() { srv.Wait(); close(served) }()
	var cause error
	select {
	case <-ctx.Done():
	case <-served:
		// Unmounted from outside (fusermount3 -u, umount).
		return nil
	case <-s.Done():
		cause = explain(s.Err())
	}
	if err := srv.Unmount(); err != nil {
		// Busy (a shell inside, a file open): detach it, so that it goes when the last
		// user lets go, rather than leaving a dead mount behind.
		logger.Warn("unmount: busy, detaching", "err", err)
		if derr := syscall.Unmount(mnt, syscall.MNT_DETACH); derr != nil {
			return errors.Join(cause, fmt.Errorf("unmount %s: %w (run fusermount3 -u %s)", mnt, err, mnt))
		}
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
	}
	logger.Info("unmounted", "mountpoint", mnt)
	return cause
}

// mountState is what every node of one mount shares: the session and the caches.
type mountState struct {
	s *connect.Remote

	mu    sync.Mutex
	attrs map[string]cachedAttr
	dirs  map[string]cachedDir
}

type cachedAttr struct {
	fi  fs.FileInfo
	err error
	at  time.Time
}

type cachedDir struct {
	entries []fs.FileInfo
	at      time.Time
}

func newMountState(s *connect.Remote) *mountState {
	return &mountState{s: s, attrs: map[string]cachedAttr{}, dirs: map[string]cachedDir{}}
}

// stat returns the remote metadata of p, from the cache when it is fresh.
func (m *mountState) stat(ctx context.Context, p string) (fs.FileInfo, error) {
	m.mu.Lock()
	c, ok := m.attrs[p]
	m.mu.Unlock()
	if ok && time.Since(c.at) < cacheTTL {
		return c.fi, c.err
	}
	var fi fs.FileInfo
	fi, err := m.s.Stat(ctx, p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err // not cached: a transient failure
	}
	m.put(p, fi, err)
	return fi, err
}

func (m *mountState) put(p string, fi fs.FileInfo, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.attrs) > 1<<16 {
		clear(m.attrs)
	}
	m.attrs[p] = cachedAttr{fi: fi, err: err, at: time.Now()}
}

// readDir returns the entries of the directory p, from the cache when it is fresh, and
// caches each entry's metadata: `ls -l` then needs one LIST, not one STAT per file.
func (m *mountState) readDir(ctx context.Context, p string) ([]fs.FileInfo, error) {
	m.mu.Lock()
	c, ok := m.dirs[p]
	m.mu.Unlock()
	if ok && time.Since(c.at) < cacheTTL {
		return c.entries, nil
	}
	es, err := m.s.ReadDir(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]fs.FileInfo, 0, len(es))
	for _, e := range es {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
		m.put(joinRemote(p, e.Name()), fi, nil)
	}
	m.mu.Lock()
	if len(m.dirs) > 1<<12 {
		clear(m.dirs)
	}
	m.dirs[p] = cachedDir{entries: out, at: time.Now()}
	m.mu.Unlock()
	return out, nil
}

// errno maps a session error to what the kernel understands.
func errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	}
	return syscall.EIO
}

// mountNode is one remote file or directory.
type mountNode struct {
	gofs.Inode
	m    *mountState
	path string

	mu     sync.Mutex
	cached string // the ETag of the version the kernel may hold pages of
}

var (
	_ gofs.NodeGetattrer = (*mountNode)(nil)
	_ gofs.NodeLookuper  = (*mountNode)(nil)
	_ gofs.NodeReaddirer = (*mountNode)(nil)
	_ gofs.NodeOpener    = (*mountNode)(nil)
)

func fillAttr(fi fs.FileInfo, a *fuse.Attr) {
	mode := uint32(fi.Mode().Perm()) &^ 0o222 // read-only, whatever the daemon's disk says
	if fi.IsDir() {
		a.Mode = syscall.S_IFDIR | mode | 0o111&mode
	} else {
		a.Mode = syscall.S_IFREG | mode
		a.Size = uint64(fi.Size())
		a.Blocks = (a.Size + 511) / 512
	}
	t := fi.ModTime()
	a.SetTimes(&t, &t, &t)
	a.Blksize = 128 << 10
	a.Nlink = 1
}

func (n *mountNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fi, err := n.m.stat(ctx, n.path)
	if err != nil {
		return errno(err)
	}
	fillAttr(fi, &out.Attr)
	out.SetTimeout(cacheTTL)
	return 0
}

func (n *mountNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	p := joinRemote(n.path, name)
	fi, err := n.m.stat(ctx, p)
	if err != nil {
		return nil, errno(err)
	}
	fillAttr(fi, &out.Attr)
	out.SetEntryTimeout(cacheTTL)
	out.SetAttrTimeout(cacheTTL)
	mode := uint32(syscall.S_IFREG)
	if fi.IsDir() {
		mode = syscall.S_IFDIR
	}
	return n.NewInode(ctx, &mountNode{m: n.m, path: p}, gofs.StableAttr{Mode: mode, Ino: inodeNumber(p, mode)}), 0
}

// inodeNumber is the inode number of the remote path p, the same at every lookup: go-fuse
// then hands the kernel the node it already knows, and the kernel keeps the pages it cached
// of the file when it looks the name up again (every EntryTimeout). With a new number per
// lookup, each open after a second would read the whole file again.
func inodeNumber(p string, mode uint32) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	h.Write([]byte{byte(mode >> 12)})
	ino := h.Sum64()
	if ino <= fuse.FUSE_ROOT_ID || ino == ^uint64(0) {
		ino += 2 // reserved: 0, the root's 1, and ^0
	}
	return ino
}

func (n *mountNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	es, err := n.m.readDir(ctx, n.path)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, len(es))
	for i, fi := range es {
		out[i] = fuse.DirEntry{Name: fi.Name(), Mode: syscall.S_IFREG}
		if fi.IsDir() {
			out[i].Mode = syscall.S_IFDIR
		}
	}
	return gofs.NewListDirStream(out), 0
}

func (n *mountNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	f, err := n.m.s.Open(ctx, n.path)
	if err != nil {
		return nil, 0, errno(err)
	}
	// FOPEN_KEEP_CACHE: what the kernel cached of the file stays across opens, so that a
	// player or ffprobe opening it again does not fetch its index again, but only while
	// the daemon serves the same version (ETag) as when those pages were read. An open of
	// another version drops them, so that no read mixes the old version's cached pages
	// with the new one's bytes. (Between opens, AUTO_INVAL_DATA, which go-fuse asks for
	// unless ExplicitDataCacheControl is set, also drops them once the kernel sees a new
	// size or mtime.)
	var keep uint32
	n.mu.Lock()
	if etag := f.Info().ETag(); etag != "" && etag == n.cached {
		keep = fuse.FOPEN_KEEP_CACHE
	} else {
		n.cached = etag
	}
	n.mu.Unlock()
	return newMountFile(f), keep, 0
}

// mountFile is an open remote file, read through a readAhead.
type mountFile struct {
	*readAhead
	f *rangefs.File
}

var (
	_ gofs.FileReader   = (*mountFile)(nil)
	_ gofs.FileReleaser = (*mountFile)(nil)
)

func newMountFile(f *rangefs.File) *mountFile {
	return &mountFile{readAhead: newReadAhead(f), f: f}
}

func (h *mountFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.readAt(ctx, dest, off)
	if err != nil {
		if ctx.Err() != nil {
			return nil, syscall.EINTR
		}
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *mountFile) Release(ctx context.Context) syscall.Errno {
	h.close()
	return errno(h.f.Close())
}
