package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
program can open them. Sequential reads stream ahead; metadata is cached for a second. It
runs until Ctrl-C, which unmounts. Linux only, through FUSE (/dev/fuse; as a user other
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
	if st, err := os.Stat(mnt); err != nil || !st.IsDir() {
		return usagef("MOUNTPOINT %q: not a directory", mnt)
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
			FsName:       "rangecast",
			Name:         "rangecast",
			DirectMount:  true, // as root, mount(2) directly; fusermount3 otherwise
			MaxReadAhead: 1 << 20,
			Debug:        *debug,
			Options:      []string{"ro"},
		},
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w (is /dev/fuse there? as a user, fusermount3 from the fuse3 package is needed)", mnt, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("mounted the remote files read-only; Ctrl-C unmounts", "mountpoint", mnt)
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
		log.Warn("unmount: busy, detaching", "err", err)
		if derr := syscall.Unmount(mnt, syscall.MNT_DETACH); derr != nil {
			return errors.Join(cause, fmt.Errorf("unmount %s: %w (run fusermount3 -u %s)", mnt, err, mnt))
		}
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
	}
	log.Info("unmounted", "mountpoint", mnt)
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
	return n.NewInode(ctx, &mountNode{m: n.m, path: p}, gofs.StableAttr{Mode: mode}), 0
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
	// FOPEN_KEEP_CACHE is not set: a reopened file is read again, so that a changed file
	// shows its new bytes once the attribute cache has expired.
	return newMountFile(f), 0, 0
}

// mountFile is an open remote file. Sequential reads (each starting where the previous one
// ended: a program reading a file from start to end, plus the kernel's own read-ahead of
// MaxReadAhead) are served from aligned blocks fetched ahead of the reader; any other read is
// one ranged request of just its bytes.
//
// The read-ahead uses ReadAt requests into buffers of its own, not the File's sequential
// stream: a stream's unread data holds the session's credit, and with many files open the
// kernel can wait on a read that needs credit while another file's stream holds it all (a
// deadlock seen with 16 concurrent readers). A ReadAt request keeps credit only while its
// bytes are being copied.
type mountFile struct {
	f      *rangefs.File
	ctx    context.Context // ends at Release: stops the read-ahead
	cancel context.CancelFunc

	mu      sync.Mutex
	blocks  map[int64]*block // by block index
	lastEnd int64            // where the latest read ended
}

// block is one readBlock-sized piece of the file, fetched or being fetched.
type block struct {
	done chan struct{}
	data []byte
	err  error
}

const (
	readBlock  = 1 << 20 // the read-ahead's request size
	readBlocks = 3       // blocks fetched ahead of a sequential reader
)

var (
	_ gofs.FileReader   = (*mountFile)(nil)
	_ gofs.FileReleaser = (*mountFile)(nil)
)

func newMountFile(f *rangefs.File) *mountFile {
	ctx, cancel := context.WithCancel(context.Background())
	return &mountFile{f: f, ctx: ctx, cancel: cancel, blocks: map[int64]*block{}, lastEnd: -1}
}

func (h *mountFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	size := h.f.Size()
	if off >= size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	dest = dest[:min(int64(len(dest)), size-off)]
	end := off + int64(len(dest))
	h.mu.Lock()
	seq := off == 0 || off == h.lastEnd || h.blocks[off/readBlock] != nil
	h.lastEnd = end
	h.mu.Unlock()
	if !seq {
		n, err := h.f.ReadAtContext(ctx, dest, off)
		if err != nil && err != io.EOF {
			return nil, errno(err)
		}
		return fuse.ReadResultData(dest[:n]), 0
	}
	first, last := off/readBlock, (end-1)/readBlock
	h.prefetch(first, last+readBlocks)
	n := 0
	for i := first; i <= last; i++ {
		b := h.block(i)
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, syscall.EINTR
		}
		if b.err != nil {
			h.drop(i)
			return nil, errno(b.err)
		}
		bstart := i * readBlock
		from := max(off, bstart) - bstart
		if from >= int64(len(b.data)) {
			break
		}
		n += copy(dest[n:], b.data[from:])
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// prefetch starts fetching blocks first..last that are not there yet, and forgets the ones
// before first: a sequential reader does not come back.
func (h *mountFile) prefetch(first, last int64) {
	last = min(last, (h.f.Size()-1)/readBlock)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.blocks {
		if i < first {
			delete(h.blocks, i)
		}
	}
	for i := first; i <= last; i++ {
		if h.blocks[i] == nil {
			h.blocks[i] = h.fetch(i)
		}
	}
}

// block returns block i, fetching it if it is not there.
func (h *mountFile) block(i int64) *block {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.blocks[i]
	if b == nil {
		b = h.fetch(i)
		h.blocks[i] = b
	}
	return b
}

func (h *mountFile) drop(i int64) {
	h.mu.Lock()
	delete(h.blocks, i)
	h.mu.Unlock()
}

// fetch starts reading block i.
func (h *mountFile) fetch(i int64) *block {
	b := &block{done: make(chan struct{})}
	start := i * readBlock
	buf := make([]byte, min(readBlock, h.f.Size()-start))
	go func() {
		defer close(b.done)
		n, err := h.f.ReadAtContext(h.ctx, buf, start)
		if err == io.EOF && n == len(buf) {
			err = nil
		}
		b.data, b.err = buf[:n], err
	}()
	return b
}

func (h *mountFile) Release(ctx context.Context) syscall.Errno {
	h.cancel()
	return errno(h.f.Close())
}
