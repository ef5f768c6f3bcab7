package rangefs

import (
	"container/list"
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// LIST pages through a directory by name (docs/PROTOCOL.md, LIST). Reading and sorting the
// whole directory for every page made listing it quadratic: a 100,000-entry directory took
// 100 pages of 86 ms each, and 64 concurrent LISTs held 64 copies of it (measured 2026-11:
// RSS from 27 to 358 MB). Instead, every page is cut from a snapshot of the directory's sorted
// names that the whole server shares:
//
//   - a LIST that arrives while the same directory is being read waits for that read;
//   - a finished snapshot is kept for listCacheTTL, least recently used first out, within
//     ServerOptions.ListCacheEntries names in all, and used as long as the directory's inode,
//     mtime and ctime are those it was read under: adding, removing or renaming an entry
//     changes the directory's mtime, so a page never misses a change made before it was asked;
//   - only names are kept: each page still stats its own entries, so sizes and times are fresh;
//   - at most maxDirReads directories are read at once, server-wide.
//
// The trap is the timestamps' granularity: a change within the same tick as the read would
// leave the mtime as it was. A snapshot is therefore kept only if the directory had not
// changed for listStableAfter when its read began (ctime included, which nothing can set
// back); a younger one serves the LISTs that waited for it, and is then dropped.
const (
	listCacheTTL    = 30 * time.Second
	listStableAfter = time.Second
	maxDirReads     = 4
)

// dirKey is a version of a directory: its path below the root and what its metadata says.
type dirKey struct {
	path         string
	ino          uint64
	mtime, ctime int64
}

func dirKeyOf(p string, fi fs.FileInfo) dirKey {
	id := fileIDOf(fi)
	return dirKey{path: p, ino: id.ino, mtime: fi.ModTime().UnixNano(), ctime: id.ctime}
}

// dirSnap is one read of a directory: its names, sorted. names and err are set before ready
// is closed and never change after.
type dirSnap struct {
	key   dirKey
	ready chan struct{}
	names []string
	err   error

	elem *list.Element // in listCache.lru while cached
	used time.Time     // last use, for the TTL; under listCache.mu
}

// listCache holds the server's directory snapshots; see the comment at the top of this file.
type listCache struct {
	budget int           // names kept in all
	sem    chan struct{} // one token per directory read in progress

	mu      sync.Mutex
	byPath  map[string]*dirSnap // the newest snapshot of each path, cached or being read
	lru     list.List           // cached snapshots, most recently used first
	entries int                 // names held by the snapshots in lru
}

func newListCache(budget int) *listCache {
	return &listCache{budget: budget, sem: make(chan struct{}, maxDirReads), byPath: make(map[string]*dirSnap)}
}

// names returns the sorted names of the directory key describes, from a snapshot shared with
// other LISTs if one fits, else by calling read.
func (c *listCache) names(ctx context.Context, key dirKey, read func() ([]string, bool, error)) ([]string, error) {
	now := time.Now()
	c.mu.Lock()
	c.expireLocked(now)
	s := c.byPath[key.path]
	if s != nil && s.key == key {
		if s.elem != nil {
			c.lru.MoveToFront(s.elem)
			s.used = now
		}
		c.mu.Unlock()
		select {
		case <-s.ready:
			return s.names, s.err
		case <-ctx.Done():
			return nil, errSessionClosing
		}
	}
	if s != nil {
		c.removeLocked(s) // an older version of the directory
	}
	s = &dirSnap{key: key, ready: make(chan struct{})}
	c.byPath[key.path] = s
	c.mu.Unlock()

	keep := false
	select {
	case c.sem <- struct{}{}:
		start := time.Now()
		var same bool
		s.names, same, s.err = read()
		<-c.sem
		stable := start.Add(-listStableAfter).UnixNano()
		keep = s.err == nil && same && key.mtime < stable && key.ctime < stable && len(s.names) <= c.budget
	case <-ctx.Done():
		s.err = errSessionClosing
	}
	close(s.ready)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byPath[key.path] != s {
		return s.names, s.err // replaced by a newer version meanwhile
	}
	if !keep {
		delete(c.byPath, key.path)
		return s.names, s.err
	}
	s.used = time.Now()
	s.elem = c.lru.PushFront(s)
	c.entries += len(s.names)
	for c.entries > c.budget {
		c.removeLocked(c.lru.Back().Value.(*dirSnap))
	}
	return s.names, s.err
}

// expireLocked drops the snapshots unused for listCacheTTL.
func (c *listCache) expireLocked(now time.Time) {
	for e := c.lru.Back(); e != nil; e = c.lru.Back() {
		s := e.Value.(*dirSnap)
		if now.Sub(s.used) < listCacheTTL {
			return
		}
		c.removeLocked(s)
	}
}

// removeLocked forgets s. LISTs already holding its names keep them.
func (c *listCache) removeLocked(s *dirSnap) {
	if c.byPath[s.key.path] == s {
		delete(c.byPath, s.key.path)
	}
	if s.elem != nil {
		c.lru.Remove(s.elem)
		s.elem = nil
		c.entries -= len(s.names)
	}
}

// clear drops every cached snapshot.
func (c *listCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Back(); e != nil; e = c.lru.Back() {
		c.removeLocked(e.Value.(*dirSnap))
	}
}

// serveList answers LIST with one ENTRIES page: names after req.After in byte order, as many
// as fit in a frame and the page limit.
func (ss *serverSession) serveList(st *sstream, req *wire.List) error {
	root, dir, err := ss.resolve("list", req.Path)
	if err != nil {
		return err
	}
	fi, err := root.Stat(dir)
	if err != nil {
		return err
	} else if !fi.IsDir() {
		return errNotDirectory
	}
	// The key is the name under root: a scoped session's key differs from the whole root's
	// for the same path, and the inode in it ties the names to the directory resolved.
	key := dirKeyOf(dir, fi)
	names, err := ss.srv.lists.names(ss.ctx, key, func() ([]string, bool, error) {
		if err := ss.takeFD(); err != nil {
			return nil, false, err
		}
		defer ss.giveFD()
		return ss.srv.readDirNames(root, key)
	})
	if err != nil {
		return err
	}
	start, _ := slices.BinarySearch(names, req.After)
	if start < len(names) && names[start] == req.After && req.After != "" {
		start++
	}
	limit := ss.opts.ListPage
	if req.Limit != 0 {
		limit = min(limit, int(req.Limit))
	}
	budget := ss.fr.sendMax - wire.HeaderLen - wire.EntriesOverhead
	page := &wire.Entries{}
	for i := start; i < len(names); i++ {
		name := names[i]
		if len(name) > wire.MaxName {
			continue // cannot be encoded; Linux never produces one
		}
		e := wire.Entry{Name: name}
		full := path.Join(dir, name)
		efi, err := root.Stat(full)
		if err != nil {
			// A dangling symlink, or one leading out of the root (or scope): list the link itself.
			efi, err = root.Lstat(full)
		}
		if err == nil {
			e.Mode = uint32(efi.Mode())
			e.ModTime = efi.ModTime().UnixNano()
			if efi.Mode().IsRegular() {
				e.Size = uint64(efi.Size())
			}
		}
		n := wire.EntryLen(&e)
		if len(page.Entries) == limit || n > budget {
			page.More = true
			break
		}
		budget -= n
		page.Entries = append(page.Entries, e)
	}
	if err := ss.fr.writeFrame(st.id, page); err != nil {
		return errWriteFailed
	}
	if req.After == "" {
		ss.accessed("list", req.Path)
	}
	return nil
}

// readDirNames reads the names of the directory key.path, sorted. same reports whether the
// directory opened is still the version key describes (it may have changed, or been swapped
// for another, since the Stat that made key): only then may the names be kept for others.
func (s *Server) readDirNames(root *os.Root, key dirKey) (names []string, same bool, err error) {
	dir, err := root.OpenFile(key.path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = dir.Close() }()
	fi, err := dir.Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.IsDir() {
		return nil, false, errNotDirectory
	}
	s.dirReads.Add(1)
	names, err = dir.Readdirnames(-1)
	if err != nil && err != io.EOF {
		return nil, false, err
	}
	slices.Sort(names)
	after, err := dir.Stat()
	if err != nil {
		return nil, false, err
	}
	return names, dirKeyOf(key.path, fi) == key && dirKeyOf(key.path, after) == key, nil
}

// errNotDirectory refuses a LIST of something that is not a directory.
var errNotDirectory = statusErrorf(wire.StatusNotDirectory, "not a directory")
